import { describe, expect, it } from 'vitest';
import { runPool, type PoolTask } from '../src/engine/pool';
import { Semaphore } from '../src/engine/semaphore';
import { LanePicker } from '../src/engine/lane-picker';
import { planLanes, type Lane } from '../src/engine/lanes';

/** A task held on an unresolved promise until the test lets it go (Hono's concurrent.test.ts style). */
function heldTasks(keys: string[]) {
  const started: number[] = [];
  const skipped: number[] = [];
  const releases = new Map<number, () => void>();
  let running = 0;
  let maxRunning = 0;
  const runningByKey = new Map<string, number>();
  let maxByKey = 0;
  const tasks: PoolTask[] = keys.map((key, index) => ({
    key,
    run: () =>
      new Promise<void>((resolve) => {
        started.push(index);
        running++;
        maxRunning = Math.max(maxRunning, running);
        const byKey = (runningByKey.get(key) ?? 0) + 1;
        runningByKey.set(key, byKey);
        maxByKey = Math.max(maxByKey, byKey);
        releases.set(index, () => {
          running--;
          runningByKey.set(key, runningByKey.get(key)! - 1);
          resolve();
        });
      }),
    skip: () => skipped.push(index),
  }));
  const releaseAll = async () => {
    while (started.length + skipped.length < keys.length || releases.size > 0) {
      const pending = [...releases.entries()];
      releases.clear();
      for (const [, release] of pending) release();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { tasks, started, skipped, releases, releaseAll, stats: () => ({ running, maxRunning, maxByKey }) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('runPool', () => {
  it('Should start exactly `concurrency` tasks and no more while they are held', async () => {
    const h = heldTasks(Array.from({ length: 10 }, (_, i) => `h${i}`));
    const done = runPool(h.tasks, { concurrency: 3 });
    await tick();
    expect(h.started).toEqual([0, 1, 2]);
    h.releases.get(1)!();
    h.releases.delete(1);
    await tick();
    expect(h.started).toEqual([0, 1, 2, 3]);
    await h.releaseAll();
    await done;
    expect(h.stats().maxRunning).toBe(3);
    expect(h.started).toHaveLength(10);
  });

  it('Should give a released slot (and its key\'s) to the next task, and resolve only once every task settled', async () => {
    const started: number[] = [];
    const finish = new Map<number, () => void>();
    const frees = new Map<number, () => void>();
    const tasks: PoolTask[] = ['a', 'a', 'b'].map((key, index) => ({
      key,
      run: (release) =>
        new Promise<void>((resolve) => {
          started.push(index);
          frees.set(index, release);
          finish.set(index, resolve);
        }),
      skip: () => {},
    }));
    let resolved = false;
    const done = runPool(tasks, { concurrency: 1, perKey: 1 }).then(() => (resolved = true));
    await tick();
    expect(started).toEqual([0]);
    frees.get(0)!();
    frees.get(0)!(); // a second release gives nothing more
    await tick();
    expect(started).toEqual([0, 1]);
    finish.get(0)!(); // settling after a release frees nothing either
    await tick();
    expect(started).toEqual([0, 1]);
    finish.get(1)!();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    frees.get(2)!();
    await tick();
    expect(resolved).toBe(false);
    finish.get(2)!();
    await done;
    expect(resolved).toBe(true);
  });

  it('Should hold tasks of a busy key back and start later keys in input order meanwhile', async () => {
    const h = heldTasks(['a', 'a', 'a', 'b', 'c', 'a']);
    const done = runPool(h.tasks, { concurrency: 4, perKey: 1 });
    await tick();
    // a#0 runs; a#1, a#2 wait for key a; b and c start; a#5 waits.
    expect(h.started).toEqual([0, 3, 4]);
    h.releases.get(0)!();
    h.releases.delete(0);
    await tick();
    expect(h.started).toEqual([0, 3, 4, 1]);
    await h.releaseAll();
    await done;
    expect(h.stats().maxByKey).toBe(1);
    expect(h.started).toEqual([0, 3, 4, 1, 2, 5]);
  });

  it('Should skip every task not yet started when the signal aborts, and let running ones finish', async () => {
    const h = heldTasks(['a', 'b', 'c', 'd', 'e']);
    const controller = new AbortController();
    const done = runPool(h.tasks, { concurrency: 2, signal: controller.signal });
    await tick();
    controller.abort();
    expect(h.skipped).toEqual([2, 3, 4]);
    await h.releaseAll();
    await done;
    expect(h.started).toEqual([0, 1]);
  });

  it('Should resolve at once for an empty task list', async () => {
    await expect(runPool([], { concurrency: 1 })).resolves.toBeUndefined();
  });

  it.each([0, -1, 1.5, Number.NaN])('Should refuse concurrency %s with a TypeError naming the value', (value) => {
    expect(() => runPool([], { concurrency: value })).toThrow(/Expected `concurrency`.*got/);
  });
});

describe('Semaphore', () => {
  it('Should grant `size` slots and queue the rest in FIFO order', async () => {
    const gate = new Semaphore(2);
    const order: number[] = [];
    const r1 = await gate.acquire();
    const r2 = await gate.acquire();
    const third = gate.acquire().then((release) => (order.push(3), release));
    const fourth = gate.acquire().then((release) => (order.push(4), release));
    await tick();
    expect(gate.taken).toBe(2);
    expect(order).toEqual([]);
    r1();
    r1(); // releasing twice frees one slot only
    await tick();
    expect(order).toEqual([3]);
    r2();
    await tick();
    expect(order).toEqual([3, 4]);
    (await third)();
    (await fourth)();
    expect(gate.taken).toBe(0);
  });

  it('Should drop a waiter whose signal aborts and reject with the reason', async () => {
    const gate = new Semaphore(1);
    const release = await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    release();
    expect(gate.taken).toBe(0);
  });
});

describe('planLanes', () => {
  it.each([
    [6, 100, [6]],
    [4, 100, [4]],
    [12, 100, [6, 6]],
    [14, 100, [5, 5, 4]],
    [24, 100, [6, 6, 6, 6]],
    [24, 8, [4, 4]],
    [24, 3, [24]],
    [50, 1000, [6, 6, 6, 6, 6, 5, 5, 5, 5]],
  ])('Should split concurrency %i over %i URLs into lanes %j of at most 6', (concurrency, distinct, lanes) => {
    expect(planLanes(concurrency, distinct)).toEqual(lanes);
  });
});

describe('LanePicker', () => {
  const lanes = (...capacities: number[]): Lane[] =>
    capacities.map((capacity) => ({ capacity, run: () => Promise.reject(new Error('not run here')), close() {} }));
  const signal = new AbortController().signal;

  it('Should give each URL the lane with the most room, lane 0 on a tie', async () => {
    const picker = new LanePicker(lanes(2, 2, 1));
    const taken = [];
    for (let i = 0; i < 5; i++) taken.push(await picker.take(signal));
    expect(taken).toEqual([0, 1, 0, 1, 2]);
  });

  it('Should make callers wait in FIFO order when every lane is full, and hand them freed room', async () => {
    const picker = new LanePicker(lanes(1, 1));
    expect([await picker.take(signal), await picker.take(signal)]).toEqual([0, 1]);
    const order: string[] = [];
    const first = picker.take(signal).then((lane) => order.push(`first:${lane}`));
    const second = picker.take(signal).then((lane) => order.push(`second:${lane}`));
    picker.give(1);
    await first;
    expect(order).toEqual(['first:1']);
    picker.give(0);
    await second;
    expect(order).toEqual(['first:1', 'second:0']);
  });

  it('Should give a broken lane no more URLs, and let `only` wait for its lane alone', async () => {
    const picker = new LanePicker(lanes(1, 2));
    expect(await picker.take(signal)).toBe(1);
    picker.breakLane(1);
    picker.give(1);
    expect(await picker.take(signal)).toBe(0);
    let got: number | null = null;
    const waiting = picker.take(signal, 0).then((lane) => (got = lane));
    await Promise.resolve();
    expect(got).toBeNull();
    picker.give(0);
    await waiting;
    expect(got).toBe(0);
  });

  it('Should reject a waiter with the signal\'s reason when it aborts', async () => {
    const picker = new LanePicker(lanes(1));
    await picker.take(signal);
    const controller = new AbortController();
    const waiting = picker.take(controller.signal);
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    picker.give(0);
    expect(await picker.take(signal)).toBe(0);
  });
});
