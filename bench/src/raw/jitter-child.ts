/**
 * The machine's own floor for the live scenario: a fixed amount of pure computation, as long as one password
 * hash, run at a fixed rate in a process of its own, each run timed. Any delay beyond the computation itself
 * is the machine's (the host or the kernel taking the CPU away), not the system's.
 * Message `{ type: 'jitter', rate, durationMs, taskMs }` → `{ type: 'jitter', aloneMs, summary }`.
 */
import { latencyHistogram, now, sleep, summarize } from '../support/load';

let sink = 0;
/** `units` rounds of integer arithmetic the optimizer cannot drop. */
function compute(units: number): void {
  let x = sink;
  for (let i = 0; i < units; i++) x = (x * 31 + i) % 1_000_003;
  sink = x;
}

function timed(units: number): number {
  const start = now();
  compute(units);
  return now() - start;
}

/** The units that take `taskMs` on this machine, from the fastest of a few calibration runs (the least disturbed). */
function calibrate(taskMs: number): number {
  let units = 100_000;
  while (timed(units) < 5) units *= 2;
  const fastest = Math.min(...Array.from({ length: 5 }, () => timed(units)));
  return Math.round((units * taskMs) / fastest);
}

process.on('message', async (message: { type?: string; rate: number; durationMs: number; taskMs: number }) => {
  if (message?.type !== 'jitter') return;
  const units = calibrate(message.taskMs);
  const aloneMs = Math.min(...Array.from({ length: 5 }, () => timed(units)));
  const histogram = latencyHistogram();
  const start = now();
  for (let i = 0; now() - start < message.durationMs; i++) {
    await sleep(start + (i * 1000) / message.rate - now());
    histogram.recordValue(Math.max(1, Math.round(timed(units) * 1000)));
  }
  process.send!({ type: 'jitter', aloneMs, summary: summarize(histogram) });
});
// The probe unrefs the IPC channel (services stay alive by their servers); this process lives on it.
process.channel?.ref();
process.send!({ type: 'ready' });
