import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../support/env';
import { fixedRate, keepAliveAgent, latencyHistogram, now, poster, sleep, summarize } from '../support/load';
import type { LatencySummary } from '../support/load';
import { startRaw } from '../support/processes';
import type { RoundPair } from '../support/report';
import { REGISTER } from '../support/system';
import { openSubscribers } from '../support/ws-clients';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario } from './scenario';

const RATE = 20;
const SUBSCRIPTION = 'subscription { patientCreated { id email } }';
const RAW_STREAM = 'bench:raw:events';
/** About one password hash here: the machine's floor is measured on a task as long. */
const TASK_MS = 20;

/**
 * Runs one fixed-rate round: `send(email)` at {@link RATE}/s, latency = arrival of that email − intended send
 * time. When `send` returns the request's answer, also the time from that answer to the arrival (0 when the
 * patient arrived first): the event's way to the screen after the registration's own request.
 */
async function round(durationMs: number, send: (email: string) => Promise<unknown> | void, arrivals: Map<string, (at: number) => void>, tag: string) {
  const histogram = latencyHistogram();
  const afterAnswer = latencyHistogram();
  const pending = new Set<string>();
  const { sent, generatorCpu } = await fixedRate(RATE, durationMs, (i, intendedAt) => {
    const email = `live-${tag}-${i}-${randomUUID().slice(0, 8)}@example.org`;
    let answeredAt: number | undefined;
    let arrivedAt: number | undefined;
    const recordAfterAnswer = () => {
      if (answeredAt !== undefined && arrivedAt !== undefined) afterAnswer.recordValue(Math.max(1, Math.round((arrivedAt - answeredAt) * 1000)));
    };
    pending.add(email);
    arrivals.set(email, (at) => {
      histogram.recordValue(Math.max(1, Math.round((at - intendedAt) * 1000)));
      arrivedAt = at;
      recordAfterAnswer();
      pending.delete(email);
      arrivals.delete(email);
    });
    void send(email)?.then(() => {
      answeredAt = now();
      recordAfterAnswer();
    });
  });
  const deadline = now() + 10_000;
  while (pending.size > 0 && now() < deadline) await sleep(20);
  for (const email of pending) arrivals.delete(email);
  return { summary: summarize(histogram), afterAnswer: afterAnswer.totalCount ? summarize(afterAnswer) : undefined, sent, lost: pending.size, generatorCpu };
}

const afterAnswerText = (summary?: LatencySummary) => (summary ? `${summary.p50Ms.toFixed(1)} / ${summary.p99Ms.toFixed(1)} ms` : 'none');

export const liveLatency: Scenario = {
  id: 'live-latency',
  title: 'live latency',
  system: `\`register\` through the gateway at a steady ${RATE}/s → \`patientCreated\` (\`{ id email }\`) at one graphql-ws subscriber of the gateway`,
  baseline: `a raw pipeline written in the bench, at ${RATE}/s: XADD → XREADGROUP → INSERT (pg) → PUBLISH → \`ws\` send, in a process of its own; and the same pipeline behind an HTTP \`POST\` that first hashes the password as identity does (argon2id, same parameters)`,
  async run(context) {
    const durationMs = context.sized({ full: 15_000, quick: 4000, smoke: 1000 });
    const roundCount = context.sized({ full: 4, quick: 2, smoke: 1 });
    const warmMs = context.sized({ full: 2000, quick: 2000, smoke: 1000 });
    const rawPort = await freePort();
    const raw = await startRaw(
      'raw-pipeline',
      'raw-server.js',
      { RAW_PORT: String(rawPort), RAW_REDIS_URL: context.redis.url, RAW_PG_URL: context.databases.patients, RAW_STREAM },
      join(context.tmp, 'raw-pipeline.log'),
    );
    const jitter = await startRaw('jitter', 'jitter-child.js', {}, join(context.tmp, 'jitter.log'));
    const machineRound = (durationMs: number) =>
      new Promise<{ aloneMs: number; summary: LatencySummary }>((resolve) => {
        const onMessage = (message: { type?: string; aloneMs: number; summary: LatencySummary }) => {
          if (message?.type !== 'jitter') return;
          jitter.child.off('message', onMessage);
          resolve(message);
        };
        jitter.child.on('message', onMessage);
        jitter.child.send({ type: 'jitter', rate: RATE, durationMs, taskMs: TASK_MS });
      });
    const redis = new Redis(context.redis.url);
    const agent = keepAliveAgent(16);
    const arrivals = new Map<string, (at: number) => void>();
    const onNext = (_index: number, frame: string, at: number) => {
      const email = /"email":"([^"]+)"/.exec(frame)?.[1];
      if (email) arrivals.get(email)?.(at);
    };
    let registerErrors = 0;
    let firstError: string | undefined;
    const viaGateway = (email: string) => {
      const input = { email, password: 'correct horse battery', firstName: 'Live', lastName: 'Latency' };
      return poster(context.gateway.url, { query: REGISTER, variables: { input } }, {}, agent)().then((result) => {
        if (!result.ok) {
          registerErrors += 1;
          firstError ??= result.body;
        }
      });
    };
    const viaRaw = (email: string) => {
      const body = JSON.stringify({ id: randomUUID(), data: { userId: randomUUID(), email, firstName: 'Live', lastName: 'Latency' } });
      void redis.xadd(RAW_STREAM, '*', 'id', randomUUID(), 'type', 'UserRegistered', 'body', body);
    };
    const viaRawHashed = (email: string) => poster(`http://127.0.0.1:${rawPort}/register`, { email, password: 'correct horse battery' }, {}, agent)();
    const gatewaySubscriber = await openSubscribers({ url: context.gateway.url, count: 1, query: SUBSCRIPTION, authorization: context.authorization, onNext });
    const rawSubscriber = await openSubscribers({ url: `http://127.0.0.1:${rawPort}/`, count: 1, query: SUBSCRIPTION, onNext });
    try {
      // Warm-up: also makes sure both subscriptions are live end to end before anything is measured.
      const warmGateway = await round(warmMs, viaGateway, arrivals, 'warm-gw');
      const warmRaw = await round(warmMs, viaRaw, arrivals, 'warm-raw');
      await round(warmMs / 2, viaRawHashed, arrivals, 'warm-raw-hashed');
      if (warmGateway.summary.count === 0) throw new Error(`no patientCreated arrived through the gateway during the warm-up (${registerErrors} register errors; first: ${firstError})`);
      if (warmRaw.summary.count === 0) throw new Error('the raw pipeline delivered nothing during the warm-up (see raw-pipeline.log)');
      const p99: RoundPair[] = [];
      const p50: RoundPair[] = [];
      const p99Hashed: RoundPair[] = [];
      const p50Hashed: RoundPair[] = [];
      const machineP99: RoundPair[] = [];
      const machine: { aloneMs: number; summary: LatencySummary }[] = [];
      type Round = Awaited<ReturnType<typeof round>>;
      const runs: { system: Round; baseline: Round; hashedBaseline: Round }[] = [];
      for (let i = 0; i < roundCount; i++) {
        const system = await round(durationMs, viaGateway, arrivals, `gw${i}`);
        const baseline = await round(durationMs, viaRaw, arrivals, `raw${i}`);
        const hashedBaseline = await round(durationMs, viaRawHashed, arrivals, `rawh${i}`);
        const task = await machineRound(durationMs);
        machine.push(task);
        machineP99.push(pair(task.summary.p99Ms, task.aloneMs));
        runs.push({ system, baseline, hashedBaseline });
        p99.push(pair(system.summary.p99Ms, baseline.summary.p99Ms));
        p50.push(pair(system.summary.p50Ms, baseline.summary.p50Ms));
        p99Hashed.push(pair(system.summary.p99Ms, hashedBaseline.summary.p99Ms));
        p50Hashed.push(pair(system.summary.p50Ms, hashedBaseline.summary.p50Ms));
      }
      const generatorCpuMax = Math.max(...runs.flatMap((run) => [run.system.generatorCpu, run.baseline.generatorCpu, run.hashedBaseline.generatorCpu]));
      const lost = runs.reduce((sum, run) => sum + run.system.lost + run.baseline.lost + run.hashedBaseline.lost, 0);
      const notes = [
        `${RATE}/s for ${durationMs / 1000} s per round, ${roundCount} rounds; latency from each send's intended time (fixed-rate schedule) to the arrival of its patient`,
        'the system path includes the argon2id hash (about 20 to 30 ms here), the user + outbox transaction, the publication, the consumer and the gateway; the raw path has no hash, so the issue\'s target (≤ 3 × its p99 of a few ms) is below the hash alone',
        'second baseline, "raw + hash": the raw path behind an HTTP POST that hashes the password first with identity\'s parameters; rounds run system, raw, raw + hash, machine floor',
        `machine floor: ${TASK_MS} ms of pure computation (as long as one hash), ${RATE} times a second in a process of its own, each run timed; its p99 ÷ its time undisturbed shows what the machine alone adds to any path that holds the CPU that long. Per round: ${machine.map((task) => `p50 ${task.summary.p50Ms.toFixed(1)} / p99 ${task.summary.p99Ms.toFixed(1)} / max ${task.summary.maxMs.toFixed(1)} ms (undisturbed ${task.aloneMs.toFixed(1)})`).join('; ')}`,
        `after the answer: from \`register\`'s answer at the client to the patient's arrival (0 when the patient came first), p50 / p99 per round: system ${runs.map((run) => afterAnswerText(run.system.afterAnswer)).join('; ')}; raw + hash ${runs.map((run) => afterAnswerText(run.hashedBaseline.afterAnswer)).join('; ')}`,
        ...generatorNote(generatorCpuMax),
      ];
      if (lost) notes.push(`${lost} sends never arrived within 10 s (not in the histograms)`);
      if (registerErrors) notes.push(`${registerErrors} failed registrations; first: ${firstError}`);
      const summaries = (pick: (run: (typeof runs)[number]) => LatencySummary) => runs.map(pick);
      return {
        figures: [
          figure('p99 latency', 'ms', p99, { text: '≤ 3', met: (ratio) => ratio <= 3 }),
          figure('p50 latency', 'ms', p50),
          figure('p99 latency vs raw + hash', 'ms', p99Hashed, { text: '≤ 3', met: (ratio) => ratio <= 3 }),
          figure('p50 latency vs raw + hash', 'ms', p50Hashed),
          figure(`machine floor: ${TASK_MS} ms of computation at ${RATE}/s, p99 vs undisturbed`, 'ms', machineP99),
        ],
        generatorCpuMax,
        notes,
        details: { system: summaries((run) => run.system.summary), baseline: summaries((run) => run.baseline.summary), hashedBaseline: summaries((run) => run.hashedBaseline.summary), machine, afterAnswer: runs.map((run) => ({ system: run.system.afterAnswer, hashedBaseline: run.hashedBaseline.afterAnswer })) },
      };
    } finally {
      await gatewaySubscriber.close();
      await rawSubscriber.close();
      agent.destroy();
      redis.disconnect();
      await raw.stop();
      await jitter.stop();
    }
  },
};
