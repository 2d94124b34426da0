import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { USER_REGISTERED, USER_REGISTERED_CHANNEL, createUserRegisteredEvent, serializeEvent } from '@phos/shared';
import { cpuMeter, now, sleep } from '../support/load';
import type { RoundPair } from '../support/report';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario } from './scenario';

export const pipeline: Scenario = {
  id: 'pipeline',
  title: 'pipeline',
  system: 'UserRegistered events XADDed to `events:userregisteredevent` (fields id, type, body, as the relay writes them), consumed by the patients subgraph until every patient exists',
  baseline: 'the same number of single-row INSERTs into a copy of the patients table, one after another, with `pg` (the driver under MikroORM)',
  async run(context) {
    const count = context.sized({ full: 1500, quick: 300, smoke: 30 });
    const roundCount = context.sized({ full: 4, quick: 2, smoke: 1 });
    const redis = new Redis(context.redis.url);
    const pg = new Client({ connectionString: context.databases.patients });
    await pg.connect();
    try {
      await pg.query('CREATE TABLE IF NOT EXISTS bench_patients (LIKE patients INCLUDING ALL)');
      /** Appends `n` events for patients with last name `marker` and waits until the subgraph created them all. */
      const system = async (n: number, marker: string) => {
        const cpu = cpuMeter();
        const start = now();
        const batch = redis.pipeline();
        for (let i = 0; i < n; i++) {
          const event = createUserRegisteredEvent({
            userId: randomUUID(),
            email: `pipe-${marker}-${i}@example.org`,
            role: 'Patient',
            firstName: 'Pipe',
            lastName: marker,
            registeredAt: new Date().toISOString(),
          });
          batch.xadd(USER_REGISTERED_CHANNEL, '*', 'id', event.id, 'type', USER_REGISTERED, 'body', serializeEvent(event));
        }
        await batch.exec();
        const deadline = start + 120_000;
        for (;;) {
          const { rows } = await pg.query<{ n: string }>('SELECT count(*) AS n FROM patients WHERE last_name = $1', [marker]);
          if (Number(rows[0].n) >= n) break;
          if (now() > deadline) throw new Error(`only ${rows[0].n} of ${n} patients created in 120 s (see patients.log)`);
          await sleep(20);
        }
        return { rate: (n / (now() - start)) * 1000, generatorCpu: cpu() };
      };
      const baseline = async (n: number, marker: string) => {
        const cpu = cpuMeter();
        const start = now();
        for (let i = 0; i < n; i++) {
          await pg.query('INSERT INTO bench_patients (id, user_id, email, first_name, last_name, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
            randomUUID(),
            randomUUID(),
            `raw-${marker}-${i}@example.org`,
            'Raw',
            marker,
            new Date(),
          ]);
        }
        return { rate: (n / (now() - start)) * 1000, generatorCpu: cpu() };
      };
      await system(Math.min(100, count), `warm-${context.runId}`);
      await baseline(Math.min(100, count), `warm-${context.runId}`);
      const rounds: RoundPair[] = [];
      const runs = [];
      for (let i = 0; i < roundCount; i++) {
        const a = await system(count, `pipe-${context.runId}-${i}`);
        const b = await baseline(count, `pipe-${context.runId}-${i}`);
        rounds.push(pair(a.rate, b.rate));
        runs.push({ system: a, baseline: b });
      }
      // The generator waits on the database here; its CPU is the polling and the baseline's driver work.
      const generatorCpuMax = Math.max(...runs.map((run) => run.system.generatorCpu));
      return {
        figures: [figure('throughput', 'patients created/s vs inserts/s', rounds, { text: '≥ 0.5', met: (ratio) => ratio >= 0.5 })],
        generatorCpuMax,
        notes: [
          `${count} events per round, appended at once (a backlog), timed from the first XADD until the last patient row is visible (polled every 20 ms)`,
          'the baseline runs in the bench process (its CPU is the driver\'s, not counted as generator load)',
          ...generatorNote(generatorCpuMax),
        ],
        details: { runs, eventsPerRound: count },
      };
    } finally {
      redis.disconnect();
      await pg.end();
    }
  },
};
