import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../support/env';
import { cpuMeter, fixedRate, latencyHistogram, now, sleep, summarize } from '../support/load';
import { startRaw } from '../support/processes';
import type { ProbedProcess } from '../support/processes';
import type { RoundPair } from '../support/report';
import { openSubscribers } from '../support/ws-clients';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario } from './scenario';

const SUBSCRIPTION = 'subscription { patientCreated { id email firstName } }';
/** The channel the patients subgraph announces new patients on (its `patientCreated` source). */
const PATIENT_CREATED_CHANNEL = 'patients:patientcreated';
const RAW_CHANNEL = 'bench:raw:created';

interface Target {
  name: 'gateway' | 'patients' | 'raw';
  url: string;
  authorization?: string;
  /** The processes whose CPU a delivery costs. */
  processes: ProbedProcess[];
  publish(seq: number): Promise<unknown>;
}

interface Measurement {
  n: number;
  events: number;
  cpuUsPerDelivery: number;
  lastSubscriber: ReturnType<typeof summarize>;
  incomplete: number;
  generatorCpu: number;
}

/** `gc`: collect the garbage of setting up (connections, subscriptions) first, so that it is not billed to the events. */
const cpuOf = async (processes: ProbedProcess[], gc = false) => (await Promise.all(processes.map((p) => p.stats(gc)))).reduce((sum, s) => sum + s.cpuUs, 0);

/** N subscribers on `target`; warm-up until one event reaches them all; then `events` events at `rate`/s. */
async function measure(target: Target, n: number, events: number, rate: number): Promise<Measurement> {
  const counts = new Map<number, number>();
  const lastAt = new Map<number, number>();
  const onNext = (_index: number, frame: string, at: number) => {
    const match = /"firstName":"f(\d+)"/.exec(frame);
    if (!match) return;
    const seq = Number(match[1]);
    counts.set(seq, (counts.get(seq) ?? 0) + 1);
    if (at > (lastAt.get(seq) ?? 0)) lastAt.set(seq, at);
  };
  const subscribers = await openSubscribers({ url: target.url, count: n, query: SUBSCRIPTION, authorization: target.authorization, onNext });
  try {
    let seq = 0;
    const reachedAll = async (s: number, timeoutMs: number) => {
      const deadline = now() + timeoutMs;
      while ((counts.get(s) ?? 0) < n && now() < deadline) await sleep(10);
      return (counts.get(s) ?? 0) >= n;
    };
    // Warm-up: subscriptions (and the gateway's upstream one) are live once an event reaches every subscriber.
    for (let tries = 0; ; tries++) {
      await target.publish(seq);
      if (await reachedAll(seq++, 1000)) break;
      if (tries >= 15) throw new Error(`${target.name}: a warm-up event reached ${Math.max(...counts.values(), 0)} of ${n} subscribers`);
    }
    const first = seq;
    const intended = new Map<number, number>();
    const cpuBefore = await cpuOf(target.processes, true);
    const generator = cpuMeter();
    await fixedRate(rate, (events / rate) * 1000, (i, intendedAt) => {
      intended.set(first + i, intendedAt);
      void target.publish(first + i);
    });
    let incomplete = 0;
    for (let i = 0; i < events; i++) if (!(await reachedAll(first + i, 10_000))) incomplete += 1;
    const generatorCpu = generator();
    const cpuUs = (await cpuOf(target.processes)) - cpuBefore;
    const histogram = latencyHistogram();
    for (const [s, at] of intended) if ((counts.get(s) ?? 0) >= n) histogram.recordValue(Math.max(1, Math.round((lastAt.get(s)! - at) * 1000)));
    return { n, events, cpuUsPerDelivery: cpuUs / (events * n), lastSubscriber: summarize(histogram), incomplete, generatorCpu };
  } finally {
    await subscribers.close();
    await sleep(300); // let the servers drop the subscriptions before the next measurement
  }
}

export const fanOut: Scenario = {
  id: 'fan-out',
  title: 'fan-out',
  system: `one event (PUBLISH on \`${PATIENT_CREATED_CHANNEL}\`, as the patients subgraph announces a patient) to N \`${SUBSCRIPTION}\` subscribers through the gateway (CPU: gateway + patients), and straight from the patients subgraph`,
  baseline: 'a raw `ws` server in its own process broadcasting the same JSON (one `next` frame, built once) to N sockets on each Redis message',
  async run(context) {
    const sizes = context.sized({ full: [100, 1000, 5000], quick: [100, 1000], smoke: [20] });
    // Events per measurement and their rate. At N = 100 an event costs the servers a few ms, so at 4/s the
    // window would be mostly idle: the services' background work (timers, the stream consumer's reads) and the
    // host's noise would weigh as much as the deliveries. More events, closer together (still far apart
    // next to an event's few ms), make the window the deliveries' and give five times the samples.
    const plan = (n: number) => (n <= 100 ? { events: context.sized({ full: 100, quick: 30, smoke: 5 }), rate: 20 } : { events: context.sized({ full: 20, quick: 6, smoke: 3 }), rate: n >= 5000 ? 2 : 4 });
    // Four rounds where they are cheap: with two, the median is the mean, and one round the machine disturbed
    // moves the figure by half its excess.
    const roundsFor = (n: number) => context.sized({ full: n >= 5000 ? 2 : 4, quick: 2, smoke: 1 });
    const rawPort = await freePort();
    const raw = await startRaw('raw-broadcast', 'raw-server.js', { RAW_PORT: String(rawPort), RAW_REDIS_URL: context.redis.url, RAW_CHANNEL }, join(context.tmp, 'raw-broadcast.log'));
    const redis = new Redis(context.redis.url);
    const message = (seq: number) => ({ id: randomUUID(), userId: randomUUID(), email: `fan-${seq}@example.org`, firstName: `f${seq}`, lastName: 'Fan', createdAt: new Date().toISOString() });
    const targets: Target[] = [
      { name: 'gateway', url: context.gateway.url, authorization: context.authorization, processes: [context.gateway, context.patients], publish: (seq) => redis.publish(PATIENT_CREATED_CHANNEL, JSON.stringify(message(seq))) },
      { name: 'patients', url: context.patients.url, authorization: context.authorization, processes: [context.patients], publish: (seq) => redis.publish(PATIENT_CREATED_CHANNEL, JSON.stringify(message(seq))) },
      {
        name: 'raw',
        url: `http://127.0.0.1:${rawPort}/`,
        processes: [raw],
        publish: (seq) => {
          const { id, email, firstName } = message(seq);
          return redis.publish(RAW_CHANNEL, JSON.stringify({ id, email, firstName }));
        },
      },
    ];
    try {
      const figures = [];
      const details: Record<string, unknown> = {};
      let generatorCpuMax = 0;
      const notes: string[] = [];
      for (const n of sizes) {
        const { events, rate } = plan(n);
        const results: Record<Target['name'], Measurement[]> = { gateway: [], patients: [], raw: [] };
        for (let round = 0; round < roundsFor(n); round++) {
          for (const target of targets) results[target.name].push(await measure(target, n, events, rate));
        }
        details[`n${n}`] = results;
        generatorCpuMax = Math.max(generatorCpuMax, ...Object.values(results).flat().map((m) => m.generatorCpu));
        const incomplete = Object.entries(results).flatMap(([name, ms]) => ms.filter((m) => m.incomplete).map((m) => `${name}: ${m.incomplete}`));
        if (incomplete.length) notes.push(`N = ${n}: events that did not reach every subscriber within 10 s: ${incomplete.join(', ')}`);
        const cpuPairs = (name: 'gateway' | 'patients'): RoundPair[] => results[name].map((m, i) => pair(m.cpuUsPerDelivery, results.raw[i].cpuUsPerDelivery));
        figures.push(figure(`N = ${n}, gateway: CPU per delivery`, 'µs', cpuPairs('gateway'), { text: '≤ 2', met: (ratio) => ratio <= 2 }));
        figures.push(figure(`N = ${n}, patients direct: CPU per delivery`, 'µs', cpuPairs('patients'), { text: '≤ 2', met: (ratio) => ratio <= 2 }));
        const latencyPairs = (name: 'gateway' | 'patients'): RoundPair[] => results[name].map((m, i) => pair(m.lastSubscriber.p99Ms, results.raw[i].lastSubscriber.p99Ms));
        const last = n >= 5000 ? { text: '≤ 250 ms (absolute)', met: (_ratio: number, system: number) => system <= 250 } : undefined;
        figures.push(figure(`N = ${n}, gateway: last subscriber p99`, 'ms', latencyPairs('gateway'), last));
        figures.push(figure(`N = ${n}, patients direct: last subscriber p99`, 'ms', latencyPairs('patients'), last));
      }
      notes.unshift(
        `events per measurement: ${sizes.map((n) => `${plan(n).events} at ${plan(n).rate}/s at N = ${n.toLocaleString('en-US')}`).join(', ')}, after a warm-up event has reached every subscriber; rounds: ${sizes.map((n) => `${roundsFor(n)} at N = ${n.toLocaleString('en-US')}`).join(', ')}, each of them gateway, patients, raw`,
        'CPU per delivery = the server processes\' CPU time (probe: process.cpuUsage) over the measured events ÷ (events × N), after a garbage collection that clears what setting up the N subscriptions left (system and raw alike); last-subscriber latency = the last arrival − the intended publish time',
      );
      notes.push(...generatorNote(generatorCpuMax));
      return { figures, generatorCpuMax, notes, details };
    } finally {
      redis.disconnect();
      await raw.stop();
    }
  },
};
