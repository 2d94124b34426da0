import { readFileSync, readdirSync } from 'node:fs';

/** Linux's clock ticks per second (USER_HZ), the unit of /proc/<pid>/stat's CPU times. */
const TICKS_PER_SECOND = 100;

/** User + system CPU of a process (all its threads) in ms, from /proc/<pid>/stat; undefined if it cannot be read. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name, in parentheses, may hold spaces: the fields that follow are counted from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, so 12 and 13 of what follows the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The start time of a process (clock ticks since boot), from /proc/<pid>/stat: with the pid, it names one process. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // starttime is field 22 of the whole line, so 20 of what follows the name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The last CPU seen of every PostgreSQL process (by pid and start time), those that have exited since included:
 * backends and autovacuum workers come and go, and a sum over the living alone would go back when one exits.
 */
const postgresSeen = new Map<string, number>();

/**
 * CPU of every PostgreSQL server process on this machine (postmaster, backends, writers), in ms: the bench's
 * databases live on the machine's PostgreSQL, which nothing else uses while the bench runs. It never goes back:
 * a process that exited counts with its CPU as last seen (what it used after that reading is missed). Undefined
 * off Linux.
 */
export function postgresCpuMs(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  let found = false;
  for (const pid of pids) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (name !== 'postgres') continue;
    const cpu = processCpuMs(Number(pid));
    const started = startTicks(Number(pid));
    if (cpu === undefined || started === undefined) continue;
    postgresSeen.set(`${pid}@${started}`, cpu);
    found = true;
  }
  return found ? [...postgresSeen.values()].reduce((sum, ms) => sum + ms, 0) : undefined;
}
