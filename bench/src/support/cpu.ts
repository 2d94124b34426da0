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

/**
 * CPU of every PostgreSQL server process on this machine (postmaster, backends, writers), in ms: the bench's
 * databases live on the machine's PostgreSQL, which nothing else uses while the bench runs. Undefined off Linux.
 */
export function postgresCpuMs(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  let total = 0;
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
    if (cpu === undefined) continue;
    total += cpu;
    found = true;
  }
  return found ? total : undefined;
}
