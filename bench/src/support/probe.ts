import { readFileSync } from 'node:fs';

/**
 * Preloaded (`node --expose-gc --require …/probe.js`) into every process the bench measures: services run
 * unchanged, and the bench asks this probe over the IPC channel for the process's own CPU time and memory.
 * `{ type: 'stats', gc: true }` collects garbage twice first, so heap and RSS figures are settled.
 */
interface StatsRequest {
  type: 'stats';
  id: number;
  gc?: boolean;
}

/**
 * CPU time of the main thread (the event loop) alone, in microseconds: the first field of Linux's
 * /proc/self/task/<pid>/schedstat, in nanoseconds. Undefined where there is no such file.
 */
function mainThreadCpuUs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return undefined;
  }
}

if (process.send) {
  process.on('message', (message: StatsRequest) => {
    if (message?.type !== 'stats') return;
    const collect = (globalThis as { gc?: () => void }).gc;
    if (message.gc && collect) {
      collect();
      collect();
    }
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    process.send!({ type: 'stats', id: message.id, cpuUs: cpu.user + cpu.system, mainCpuUs: mainThreadCpuUs(), minorFaults: process.resourceUsage().minorPageFault, rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external });
  });
  // An orphaned service (the bench died) stops itself the way an operator would stop it.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel?.unref();
}
