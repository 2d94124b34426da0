import { join } from 'node:path';
import { freePort } from '../support/env';
import { sleep } from '../support/load';
import { startRaw } from '../support/processes';
import type { ProbedProcess, ProcessStats } from '../support/processes';
import type { RoundPair } from '../support/report';
import { openSubscribers } from '../support/ws-clients';
import { figure, pair } from './scenario';
import type { Scenario } from './scenario';

const SUBSCRIPTION = 'subscription { patientCreated { id email } }';

interface Growth {
  rssKbPer: number;
  heapKbPer: number;
  before: ProcessStats;
  after: ProcessStats;
}

/** Memory a fresh server process grows by per idle subscription, after one warm subscription, GC'd both times. */
async function growth(server: ProbedProcess, url: string, n: number, authorization?: string): Promise<Growth> {
  const warm = await openSubscribers({ url, count: 1, query: SUBSCRIPTION, authorization });
  await sleep(500);
  const before = await server.stats(true);
  const idle = await openSubscribers({ url, count: n, query: SUBSCRIPTION, authorization });
  await sleep(1500);
  const after = await server.stats(true);
  await idle.close();
  await warm.close();
  const heap = (s: ProcessStats) => s.heapUsed + s.external;
  return { rssKbPer: (after.rss - before.rss) / n / 1024, heapKbPer: (heap(after) - heap(before)) / n / 1024, before, after };
}

export const idleMemory: Scenario = {
  id: 'idle-memory',
  title: 'idle memory',
  system: `N idle \`${SUBSCRIPTION}\` subscriptions through a fresh gateway process (graphql-ws clients, all with the same token)`,
  baseline: 'N idle raw `ws` connections (each sent a subscribe) to a fresh raw `ws` server process',
  async run(context) {
    const n = context.sized({ full: 5000, quick: 1000, smoke: 50 });
    const roundCount = context.sized({ full: 2, quick: 2, smoke: 1 });
    const rss: RoundPair[] = [];
    const heap: RoundPair[] = [];
    const runs = [];
    for (let round = 0; round < roundCount; round++) {
      const gateway = await context.startGateway(`gateway-idle-${round}`);
      let system: Growth;
      try {
        system = await growth(gateway, gateway.url, n, context.authorization);
      } finally {
        await gateway.stop();
      }
      const port = await freePort();
      const raw = await startRaw(`raw-idle-${round}`, 'raw-server.js', { RAW_PORT: String(port), RAW_REDIS_URL: context.redis.url }, join(context.tmp, `raw-idle-${round}.log`));
      let baseline: Growth;
      try {
        baseline = await growth(raw, `http://127.0.0.1:${port}/`, n);
      } finally {
        await raw.stop();
      }
      rss.push(pair(system.rssKbPer, baseline.rssKbPer));
      heap.push(pair(system.heapKbPer, baseline.heapKbPer));
      runs.push({ system, baseline });
    }
    return {
      figures: [
        figure('RSS per subscription', 'KB', rss, { text: '≤ 20 KB (absolute)', met: (_ratio, system) => system <= 20 }),
        figure('heap + external per subscription', 'KB', heap),
      ],
      generatorCpuMax: 0,
      notes: [
        `N = ${n}; each round starts a fresh server process (run with --expose-gc and a preloaded probe), opens one warm subscription, GCs and reads process.memoryUsage(), opens N more, waits 1.5 s, GCs and reads again`,
        'RSS is what the issue\'s target is about; heap + external shows how much of it is JavaScript objects and buffers',
      ],
      details: { n, runs },
    };
  },
};
