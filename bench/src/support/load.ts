import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, Math.max(0, ms)));

/** A latency histogram in microseconds, 1 µs to 10 min, 3 significant digits. */
export function latencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
  };
}

/** The bench process's own CPU use over a window, as a fraction of one core (1 = a whole core). */
export function cpuMeter() {
  const startCpu = process.cpuUsage();
  const startAt = now();
  return () => {
    const used = process.cpuUsage(startCpu);
    return (used.user + used.system) / 1000 / Math.max(1, now() - startAt);
  };
}

export interface PostResult {
  ok: boolean;
  body?: string;
}

/**
 * A POST of one fixed body over keep-alive connections (node:http, which costs the generator far less CPU
 * than fetch). A response counts as ok when it is 200 and carries no `errors`.
 */
export function poster(url: string, body: unknown, headers: Record<string, string>, agent: Agent): () => Promise<PostResult> {
  const target = new URL(url);
  const payload = Buffer.from(JSON.stringify(body));
  const options = {
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
  };
  return () =>
    new Promise<PostResult>((resolve) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const ok = res.statusCode === 200 && !text.includes('"errors"');
          resolve(ok ? { ok } : { ok, body: `${res.statusCode} ${text.slice(0, 300)}` });
        });
        res.on('error', () => resolve({ ok: false, body: 'response error' }));
      });
      req.on('error', (error) => resolve({ ok: false, body: error.message }));
      req.end(payload);
    });
}

export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

export interface ClosedLoopResult {
  completed: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** Completed operations per second. */
  rate: number;
  /** The bench process's CPU over the window, in cores. */
  generatorCpu: number;
}

/**
 * Throughput at saturation: `concurrency` callers each send the next request as soon as the previous one
 * answers, for `durationMs`. (Throughput needs a closed loop; latency figures come from {@link fixedRate}.)
 */
export async function closedLoop(concurrency: number, durationMs: number, send: () => Promise<PostResult>): Promise<ClosedLoopResult> {
  const cpu = cpuMeter();
  const start = now();
  const end = start + durationMs;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (now() < end) {
      const result = await send();
      if (result.ok) completed += 1;
      else {
        errors += 1;
        firstError ??= result.body;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = now() - start;
  return { completed, errors, firstError, elapsedMs, rate: (completed / elapsedMs) * 1000, generatorCpu: cpu() };
}

/**
 * An open loop: calls `fire(i, intendedAt)` at a fixed rate for `durationMs`, never waiting for answers. Callers
 * measure latency from `intendedAt` (the scheduled time, not the time the call actually went out), so a
 * stalled generator or server shows up as latency instead of being hidden (no coordinated omission).
 */
export async function fixedRate(ratePerSecond: number, durationMs: number, fire: (i: number, intendedAt: number) => void): Promise<{ sent: number; generatorCpu: number }> {
  const cpu = cpuMeter();
  const intervalMs = 1000 / ratePerSecond;
  const total = Math.floor((durationMs / 1000) * ratePerSecond);
  const start = now() + 5;
  for (let i = 0; i < total; i++) {
    const intendedAt = start + i * intervalMs;
    const wait = intendedAt - now();
    if (wait > 1) await sleep(wait - 0.5);
    while (now() < intendedAt) {
      /* spin the last half millisecond */
    }
    fire(i, intendedAt);
  }
  return { sent: total, generatorCpu: cpu() };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
