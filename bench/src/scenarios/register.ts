import { join } from 'node:path';
import { postgresCpuMs, processCpuMs } from '../support/cpu';
import { closedLoop, keepAliveAgent, median, poster } from '../support/load';
import { startRaw } from '../support/processes';
import type { RoundPair } from '../support/report';
import { REGISTER } from '../support/system';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario } from './scenario';

const CLIENTS = 8;

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
      const measureMs = context.quick ? 3000 : 8000;
      const roundCount = context.quick ? 2 : 4;
      await closedLoop(CLIENTS, 1000, send);
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
      const errors = runs.reduce((sum, run) => sum + run.system.errors, 0);
      const cpu = (name: string) => median(cpuPerRegistration.map((round) => round[name]!)).toFixed(1);
      const ratioOf = (a: string, b: string) => median(cpuPerRegistration.map((round) => round[a]! / round[b]!)).toFixed(2);
      const notes = [
        `closed loop, ${CLIENTS} clients; each round hashes exactly as many passwords as that round registered`,
        `CPU per registration (median of rounds, ms; process CPU, threads included): identity ${cpu('identity')} (its hash included), gateway ${cpu('gateway')}, patients ${cpu('patients')}, Redis ${cpu('redis')}, PostgreSQL ${cpu('postgres')}; one hash in the baseline process ${cpu('hash')}`,
        `where the CPU goes: the hash inside the system (identity's threads but its event loop) ${cpu('hashInSystem')} ms; everything else, all the system's processes together, ${cpu('allButHash')} ms (identity's event loop ${cpu('identityLoop')}); in all ${cpu('total')} ms, and one hash alone ÷ that is ${ratioOf('hash', 'total')} (the measured ratio, as both sides use every core). With nothing else to do the ratio would be one hash alone ÷ the hash inside the system, ${ratioOf('hash', 'hashInSystem')}; for 0.8, everything else would have to cost under ${median(cpuPerRegistration.map((round) => round.hash! / 0.8 - round.hashInSystem!)).toFixed(1)} ms`,
        `page faults per registration (median of rounds): identity ${median(faultsPerRegistration.map((round) => round.identity)).toFixed(0)}, one hash in the baseline process ${median(faultsPerRegistration.map((round) => round.hash)).toFixed(0)} (19 MiB, all of a hash's memory, is 4,864 pages)`,
        ...generatorNote(generatorCpuMax),
      ];
      if (errors) notes.push(`${errors} failed registrations; first: ${runs.find((run) => run.system.firstError)?.system.firstError}`);
      return {
        figures: [figure('throughput', 'registrations/s vs hashes/s', rounds, { text: '≥ 0.8', met: (ratio) => ratio >= 0.8 })],
        generatorCpuMax,
        notes,
        details: { runs, cpuPerRegistration, faultsPerRegistration },
      };
    } finally {
      agent.destroy();
      await hasher.stop();
    }
  },
};
