/**
 * CPU time and memory of processes, read from Linux's /proc (the bench measures other
 * processes: workerd, the peers), and a sampler for peak RSS.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux). */
const TICKS_PER_SECOND = 100;

function readOr(path, fallback) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid) {
  const stat = readOr(`/proc/${pid}/stat`, null);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * User + system CPU time of a process in ms, two ways:
 * - `ticksMs`: utime + stime from /proc/<pid>/stat (10 ms resolution; includes threads that exited);
 * - `nsMs`: the sum of /proc/<pid>/task/*\/schedstat run times (ns resolution; live threads only).
 * `ms` is the precise one unless threads exited, which shows as the tick count running ahead.
 */
export function cpuTime(pid) {
  const fields = statFields(pid);
  if (!fields) return null;
  // After the ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
  const ticksMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  let ns = 0;
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    // Gone.
  }
  for (const tid of tasks) ns += Number(readOr(`/proc/${pid}/task/${tid}/schedstat`, '0').split(' ')[0]);
  const nsMs = ns / 1e6;
  return { ticksMs, nsMs, ms: nsMs > 0 && nsMs + 20 >= ticksMs ? nsMs : ticksMs };
}

/** CPU ms used by these processes between two cpuTime() snapshots (null if any vanished). */
export function cpuDelta(before, after) {
  let total = 0;
  for (const [pid, b] of before) {
    const a = after.get(pid);
    if (!a || !b) return null;
    // schedstat when both snapshots have it and agree with the tick counters, ticks otherwise.
    const precise = a.nsMs - b.nsMs;
    const coarse = a.ticksMs - b.ticksMs;
    total += Math.abs(precise - coarse) <= 20 ? precise : coarse;
  }
  return total;
}

export function cpuSnapshot(pids) {
  return new Map(pids.map((pid) => [pid, cpuTime(pid)]));
}

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or null. */
export function statusKb(pid, field) {
  const status = readOr(`/proc/${pid}/status`, '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : null;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0; needs permission). */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Every live descendant of `pid` (children, grandchildren, ...), with its command line. */
export function descendants(pid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(name);
    if (!fields) continue;
    const ppid = Number(fields[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [];
  const walk = (p) => {
    for (const child of children.get(p) ?? []) {
      out.push({ pid: child, cmdline: readOr(`/proc/${child}/cmdline`, '').split('\0').join(' ') });
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/**
 * Samples VmRSS of one process every `everyMs` until stop(), and also resets and reads
 * the kernel's own high-water mark (VmHWM), which catches a peak between two samples.
 * stop() answers the growth over the RSS at start, in MiB.
 */
export function sampleRss(pid, everyMs = 20) {
  const baseKb = statusKb(pid, 'VmRSS') ?? 0;
  const hwmReset = resetPeakRss(pid);
  let peakKb = baseKb;
  let samples = 0;
  const timer = setInterval(() => {
    const kb = statusKb(pid, 'VmRSS');
    if (kb !== null) {
      samples++;
      if (kb > peakKb) peakKb = kb;
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const last = statusKb(pid, 'VmRSS');
      if (last !== null && last > peakKb) peakKb = last;
      const hwmKb = hwmReset ? statusKb(pid, 'VmHWM') : null;
      const mib = (kb) => kb / 1024;
      return {
        baseMiB: mib(baseKb),
        sampledPeakGrowthMiB: mib(peakKb - baseKb),
        hwmGrowthMiB: hwmKb === null ? null : mib(hwmKb - baseKb),
        peakGrowthMiB: mib(Math.max(peakKb, hwmKb ?? 0) - baseKb),
        samples,
      };
    },
  };
}

/**
 * Keeps the last `keep` characters of a child's output (Infinity: all of it) and gives a
 * stop() that sends SIGTERM, then SIGKILL after 5 s. With `group`, the signals go to the
 * child's whole process group (wrangler dev and the workerd processes it starts; the child
 * must have been spawned `detached` to lead one).
 */
export function supervise(child, { group = false, keep = 20_000 } = {}) {
  let log = '';
  const append = (chunk) => {
    log += chunk.toString();
    if (log.length > keep) log = log.slice(-keep);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (name) => {
    try {
      if (group) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // Already gone.
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signal('SIGTERM');
    const ended = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5_000))]);
    if (!ended) {
      signal('SIGKILL');
      await exited;
    }
  };
  return { log: () => log, stop };
}
