/**
 * HostTurns (src/engine/host-turns.ts): how one batch takes, hands on, keeps
 * and gives back turns at a shared host gate. The gate here is a recording
 * one with a fixed number of turns, so each round trip to it is counted; the
 * real gate (a HostGate Durable Object) is tested in test/jobs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HostTurns, type HostPermit, type HostPermits } from '../src/engine/host-turns';

/** A gate with `limit` turns per host that answers at once when it has one and queues the rest. */
function recordingGate(limit: number) {
  const log: string[] = [];
  let out = 0;
  const queue: (() => void)[] = [];
  const permit = (n: number): HostPermit => ({
    release(backoffMs) {
      log.push(`release ${n}${backoffMs ? ` backoff ${backoffMs}` : ''}`);
      out--;
      queue.shift()?.();
    },
  });
  let next = 0;
  const gate: HostPermits = {
    acquire(_host, _rules, signal) {
      log.push('acquire');
      return new Promise((resolve, reject) => {
        const grant = () => {
          out++;
          resolve(permit(++next));
        };
        if (out < limit) return grant();
        queue.push(grant);
        signal.addEventListener('abort', () => {
          const at = queue.indexOf(grant);
          if (at !== -1) queue.splice(at, 1);
          reject(signal.reason);
        });
      });
    },
  };
  return { gate, log, out: () => out };
}

const rules = { limit: 2, intervalMs: 0 };
const signal = new AbortController().signal;

describe('HostTurns', () => {
  it('Should keep a turn for the batch\'s next URL to the host: one round trip to the gate, not two per URL', async () => {
    const { gate, log } = recordingGate(2);
    const turns = new HostTurns(gate);
    const a = await turns.take('h', rules, signal);
    turns.give('h', a, { backoffMs: 0, intervalMs: 0, queued: 2 });
    const b = await turns.take('h', rules, signal);
    expect(b).toBe(a);
    turns.give('h', b, { backoffMs: 0, intervalMs: 0, queued: 0 });
    expect(log).toEqual(['acquire', 'release 1']);
  });

  it('Should hand a turn to a URL of the batch that waits for the gate, instead of keeping it idle', async () => {
    const { gate, out } = recordingGate(1);
    const turns = new HostTurns(gate);
    const first = await turns.take('h', rules, signal);
    const second = turns.take('h', rules, signal); // the gate is full: it waits
    turns.give('h', first, { backoffMs: 0, intervalMs: 0, queued: 0 });
    expect(await second).toBe(first);
    expect(out()).toBe(1);
    turns.give('h', first, { backoffMs: 0, intervalMs: 0, queued: 0 });
    turns.close();
    expect(out()).toBe(0);
  });

  it('Should give a turn back at once with a backoff or a Crawl-delay, and every kept turn at close', async () => {
    const { gate, log, out } = recordingGate(3);
    const turns = new HostTurns(gate);
    const a = await turns.take('h', rules, signal);
    turns.give('h', a, { backoffMs: 5000, intervalMs: 0, queued: 4 });
    const b = await turns.take('h', { limit: 3, intervalMs: 1000 }, signal);
    turns.give('h', b, { backoffMs: 0, intervalMs: 1000, queued: 4 });
    const c = await turns.take('h', rules, signal);
    turns.give('h', c, { backoffMs: 0, intervalMs: 0, queued: 4 }); // kept
    expect(out()).toBe(1);
    turns.close();
    expect(out()).toBe(0);
    expect(log).toEqual(['acquire', 'release 1 backoff 5000', 'acquire', 'release 2', 'acquire', 'release 3']);
  });
});
