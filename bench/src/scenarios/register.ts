import { join } from 'node:path';
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
      const services = { gateway: context.gateway, identity: context.identity, patients: context.patients, hasher };
      const cpuMs = async () => Object.fromEntries(await Promise.all(Object.entries(services).map(async ([name, p]) => [name, (await p.stats()).cpuUs / 1000] as const)));
      const cpuPerRegistration: Record<string, number>[] = [];
      for (let i = 0; i < roundCount; i++) {
        const before = await cpuMs();
        const system = await closedLoop(CLIENTS, measureMs, send);
        if (system.completed === 0) throw new Error(`no registration succeeded: ${system.firstError}`);
        const middle = await cpuMs();
        const elapsedMs = await hashes(system.completed);
        const after = await cpuMs();
        cpuPerRegistration.push({
          gateway: (middle.gateway! - before.gateway!) / system.completed,
          identity: (middle.identity! - before.identity!) / system.completed,
          patients: (middle.patients! - before.patients!) / system.completed,
          hash: (after.hasher! - middle.hasher!) / system.completed,
        });
        const baselineRate = (system.completed / elapsedMs) * 1000;
        rounds.push(pair(system.rate, baselineRate));
        runs.push({ system, baseline: { hashes: system.completed, elapsedMs, rate: baselineRate } });
        generatorCpuMax = Math.max(generatorCpuMax, system.generatorCpu);
      }
      const errors = runs.reduce((sum, run) => sum + run.system.errors, 0);
      const cpu = (name: string) => median(cpuPerRegistration.map((round) => round[name]!)).toFixed(1);
      const notes = [
        `closed loop, ${CLIENTS} clients; each round hashes exactly as many passwords as that round registered`,
        `CPU per registration (median of rounds, ms; process CPU, threads included): identity ${cpu('identity')} (its hash included), gateway ${cpu('gateway')}, patients ${cpu('patients')}; one hash in the baseline process ${cpu('hash')}`,
        ...generatorNote(generatorCpuMax),
      ];
      if (errors) notes.push(`${errors} failed registrations; first: ${runs.find((run) => run.system.firstError)?.system.firstError}`);
      return {
        figures: [figure('throughput', 'registrations/s vs hashes/s', rounds, { text: '≥ 0.8', met: (ratio) => ratio >= 0.8 })],
        generatorCpuMax,
        notes,
        details: { runs, cpuPerRegistration },
      };
    } finally {
      agent.destroy();
      await hasher.stop();
    }
  },
};
