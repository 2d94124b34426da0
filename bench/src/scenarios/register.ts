import { join } from 'node:path';
import { postgresCpuMs, processCpuMs } from '../support/cpu';
import { freePort } from '../support/env';
import { closedLoop, fixedRate, keepAliveAgent, median, poster } from '../support/load';
import type { PostResult } from '../support/load';
import { startRaw, startService } from '../support/processes';
import type { ProbedProcess, ServiceProcess } from '../support/processes';
import type { RoundPair } from '../support/report';
import { REGISTER } from '../support/system';
import type { BenchContext } from '../support/system';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario } from './scenario';

const CLIENTS = 8;
/** Preloaded into the diagnostic's identity: its hash is one stored hash (bench only, see the module). */
const STORED_HASH = join(__dirname, '..', 'support', 'stored-hash.js');

/** CPU so far (ms, all threads) of the given processes, of Redis and of PostgreSQL. */
async function cpuOf(context: BenchContext, processes: Record<string, ProbedProcess>): Promise<Record<string, number>> {
  const names = Object.keys(processes);
  const stats = await Promise.all(names.map((name) => processes[name].stats()));
  return {
    ...Object.fromEntries(names.map((name, i) => [name, stats[i].cpuUs / 1000])),
    redis: processCpuMs(context.redis.pid) ?? 0,
    postgres: postgresCpuMs() ?? 0,
  };
}

/** CPU per registration between two readings of {@link cpuOf}: each part, and `total`. */
function perRegistration(before: Record<string, number>, after: Record<string, number>, registrations: number): Record<string, number> {
  const parts = Object.fromEntries(Object.keys(before).map((name) => [name, (after[name] - before[name]) / Math.max(1, registrations)]));
  return { ...parts, total: Object.values(parts).reduce((sum, ms) => sum + ms, 0) };
}

/**
 * What a registration costs but for its hash: the same registrations through a second identity whose hash is
 * one stored hash (and a gateway in front of it), sharing patients, Redis and PostgreSQL with the system. CPU
 * per registration of all of them at full speed (a closed loop, after which the code is warm), then at a
 * fixed `rate`: the rate the system reaches with its hash.
 */
async function withoutTheHash(context: BenchContext, rate: number, measureMs: number, warmUpMs: number) {
  const port = await freePort();
  const env = { IDENTITY_PORT: String(port), IDENTITY_URL: `http://127.0.0.1:${port}/graphql` };
  const identity = await startService('subgraphs/identity', port, { ...context.env, ...env }, join(context.tmp, 'identity-stored-hash.log'), ['--require', STORED_HASH]);
  let gateway: ServiceProcess | undefined;
  const agent = keepAliveAgent(CLIENTS);
  try {
    gateway = await context.startGateway('gateway-stored-hash', env);
    const url = gateway.url;
    const send = () => poster(url, { query: REGISTER, variables: { input: context.registration('stored-hash') } }, {}, agent)();
    const processes = { gateway, identity, patients: context.patients };
    await closedLoop(CLIENTS, warmUpMs, send);
    const start = await cpuOf(context, processes);
    const full = await closedLoop(CLIENTS, measureMs, send);
    if (full.completed === 0) throw new Error(`no registration succeeded without the hash: ${full.firstError}`);
    const middle = await cpuOf(context, processes);
    const sent: Promise<PostResult>[] = [];
    await fixedRate(rate, measureMs, () => void sent.push(send()));
    const paced = (await Promise.all(sent)).filter((result) => result.ok).length;
    const end = await cpuOf(context, processes);
    return {
      fullSpeed: { rate: full.rate, msPerRegistration: perRegistration(start, middle, full.completed) },
      atSystemRate: { rate, msPerRegistration: perRegistration(middle, end, paced) },
    };
  } finally {
    agent.destroy();
    await gateway?.stop();
    await identity.stop();
  }
}

export const register: Scenario = {
  id: 'register',
  title: 'register',
  system: `\`register\` through the gateway, ${CLIENTS} concurrent clients (hash, user + outbox insert, relay, patient creation downstream)`,
  baseline: `the same number of argon2id hashes (m = 19456, t = 2, p = 1, @node-rs/argon2) with ${CLIENTS} concurrent callers, in a process of its own`,
  async run(context) {
    const hasher = await startRaw('hash-child', 'hash-child.js', {}, join(context.tmp, 'hash-child.log'));
    const agent = keepAliveAgent(CLIENTS);
    const send = () => poster(context.gateway.url, { query: REGISTER, variables: { input: context.registration('register') } }, {}, agent)();
    const hashes = (count: number, concurrency = CLIENTS) =>
      new Promise<number>((resolve) => {
        hasher.child.once('message', (message: { elapsedMs: number }) => resolve(message.elapsedMs));
        hasher.child.send({ type: 'hash', count, concurrency });
      });
    try {
      const measureMs = context.sized({ full: 8000, quick: 3000, smoke: 1000 });
      const roundCount = context.sized({ full: 4, quick: 2, smoke: 1 });
      // Long enough for V8 to have optimized the whole path: the first thousand registrations cost up to a
      // fifth more CPU each than later ones.
      const warmUpMs = context.sized({ full: 10_000, quick: 3000, smoke: 500 });
      await closedLoop(CLIENTS, warmUpMs, send);
      await hashes(CLIENTS * 2);
      const rounds: RoundPair[] = [];
      const runs = [];
      let generatorCpuMax = 0;
      // CPU so far (ms) of every process of the system, and of identity's event loop alone: what is not its
      // event loop is, in identity, the hash on libuv's thread pool (and V8's own helper threads).
      const cpuMs = async (): Promise<Record<string, number | undefined>> => {
        const [gateway, identity, patients, hash] = await Promise.all([context.gateway.stats(), context.identity.stats(), context.patients.stats(), hasher.stats()]);
        return {
          gateway: gateway.cpuUs / 1000,
          identity: identity.cpuUs / 1000,
          patients: patients.cpuUs / 1000,
          hasher: hash.cpuUs / 1000,
          identityLoop: identity.mainCpuUs! / 1000,
          identityFaults: identity.minorFaults,
          hasherFaults: hash.minorFaults,
          redis: processCpuMs(context.redis.pid),
          postgres: postgresCpuMs(),
        };
      };
      const cpuPerRegistration: Record<string, number>[] = [];
      // Page faults: a hash whose memory was handed back to the kernel faults up to 4,864 pages in again.
      const faultsPerRegistration: { identity: number; hash: number }[] = [];
      for (let i = 0; i < roundCount; i++) {
        const before = await cpuMs();
        const system = await closedLoop(CLIENTS, measureMs, send);
        if (system.completed === 0) throw new Error(`no registration succeeded: ${system.firstError}`);
        const middle = await cpuMs();
        const elapsedMs = await hashes(system.completed);
        const after = await cpuMs();
        const perRegistration = (name: string) => (middle[name]! - before[name]!) / system.completed;
        const round = {
          gateway: perRegistration('gateway'),
          identity: perRegistration('identity'),
          identityLoop: perRegistration('identityLoop'),
          patients: perRegistration('patients'),
          redis: perRegistration('redis'),
          postgres: perRegistration('postgres'),
          hash: (after.hasher! - middle.hasher!) / system.completed,
        };
        faultsPerRegistration.push({ identity: perRegistration('identityFaults'), hash: (after.hasherFaults! - middle.hasherFaults!) / system.completed });
        const total = round.gateway + round.identity + round.patients + round.redis + round.postgres;
        // Identity's threads but its event loop: the hash, as it runs inside the system.
        const hashInSystem = round.identity - round.identityLoop;
        cpuPerRegistration.push({ ...round, total, hashInSystem, allButHash: total - hashInSystem });
        const baselineRate = (system.completed / elapsedMs) * 1000;
        rounds.push(pair(system.rate, baselineRate));
        runs.push({ system, baseline: { hashes: system.completed, elapsedMs, rate: baselineRate } });
        generatorCpuMax = Math.max(generatorCpuMax, system.generatorCpu);
      }
      const parts = (ms: Record<string, number>) => `${ms.total.toFixed(1)} ms (identity ${ms.identity.toFixed(1)}, gateway ${ms.gateway.toFixed(1)}, patients ${ms.patients.toFixed(1)}, Redis ${ms.redis.toFixed(1)}, PostgreSQL ${ms.postgres.toFixed(1)})`;
      const withoutHash = await withoutTheHash(context, median(runs.map((run) => run.system.rate)), measureMs, warmUpMs);
      const errors = runs.reduce((sum, run) => sum + run.system.errors, 0);
      const cpu = (name: string) => median(cpuPerRegistration.map((round) => round[name]!)).toFixed(1);
      const ratioOf = (a: string, b: string) => median(cpuPerRegistration.map((round) => round[a]! / round[b]!)).toFixed(2);
      const notes = [
        `closed loop, ${CLIENTS} clients; each round hashes exactly as many passwords as that round registered`,
        `CPU per registration (median of rounds, ms; process CPU, threads included): identity ${cpu('identity')} (its hash included), gateway ${cpu('gateway')}, patients ${cpu('patients')}, Redis ${cpu('redis')}, PostgreSQL ${cpu('postgres')}; one hash in the baseline process ${cpu('hash')}`,
        `where the CPU goes: the hash inside the system (identity's threads but its event loop) ${cpu('hashInSystem')} ms; everything else, all the system's processes together, ${cpu('allButHash')} ms (identity's event loop ${cpu('identityLoop')}); in all ${cpu('total')} ms, and one hash alone ÷ that is ${ratioOf('hash', 'total')} (the measured ratio, as both sides use every core). With nothing else to do the ratio would be one hash alone ÷ the hash inside the system, ${ratioOf('hash', 'hashInSystem')}; for 0.8, everything else would have to cost under ${median(cpuPerRegistration.map((round) => round.hash! / 0.8 - round.hashInSystem!)).toFixed(1)} ms`,
        `without the hash (bench only: a second identity, preloaded so that every hash it asks for is one stored hash, and a gateway in front of it): everything but the hash costs ${parts(withoutHash.atSystemRate.msPerRegistration)} per registration at the system's rate (${withoutHash.atSystemRate.rate.toFixed(0)}/s, fixed), and ${parts(withoutHash.fullSpeed.msPerRegistration)} at full speed (${withoutHash.fullSpeed.rate.toFixed(0)}/s, where each wake-up of a process handles several); the load generator's share left out`,
        `page faults per registration (median of rounds): identity ${median(faultsPerRegistration.map((round) => round.identity)).toFixed(0)}, one hash in the baseline process ${median(faultsPerRegistration.map((round) => round.hash)).toFixed(0)} (19 MiB, all of a hash's memory, is 4,864 pages)`,
        ...generatorNote(generatorCpuMax),
      ];
      if (errors) notes.push(`${errors} failed registrations; first: ${runs.find((run) => run.system.firstError)?.system.firstError}`);
      return {
        figures: [figure('throughput', 'registrations/s vs hashes/s', rounds, { text: '≥ 0.8', met: (ratio) => ratio >= 0.8 })],
        generatorCpuMax,
        notes,
        details: { runs, cpuPerRegistration, faultsPerRegistration, withoutHash },
      };
    } finally {
      agent.destroy();
      await hasher.stop();
    }
  },
};
