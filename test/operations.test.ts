/**
 * What operators rely on: health and readiness, start-up failures that say what to do, recovery when Redis
 * comes back, and graceful shutdown.
 */
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { freePort, ownRedis, runBuilt } from './support/processes';
import { eventually, waitForSubscribers } from './support/redis';
import { startSystem } from './support/system';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function status(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('health and readiness', () => {
  it('serves /healthz and /readyz on every service', async () => {
    const system = await startSystem('sqlite');
    try {
      for (const url of [system.gatewayUrl, system.identityUrl, system.patientsUrl]) {
        const base = url.replace(/\/graphql$/, '');
        expect(await status(`${base}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
        const ready = await status(`${base}/readyz`);
        expect(ready.status).toBe(200);
        expect(ready.body.status).toBe('ok');
      }
      const identity = await status(`${system.identityUrl.replace(/\/graphql$/, '')}/readyz`);
      expect(identity.body.checks).toEqual({ database: 'up', redis: 'up' });
      expect(identity.body.outbox).toEqual({ backlog: expect.any(Number), unconsumed: expect.any(Number) });
    } finally {
      await system.stop();
    }
  });

  it('stays up while Redis is gone, says 503 naming it, and recovers when it returns', async () => {
    const redis = await ownRedis();
    const system = await startSystem('sqlite', { REDIS_URL: redis.url });
    const watcher = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    watcher.on('error', () => undefined);
    const client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const identityReady = `${system.identityUrl.replace(/\/graphql$/, '')}/readyz`;
      const patientsReady = `${system.patientsUrl.replace(/\/graphql$/, '')}/readyz`;
      await redis.kill();
      for (const url of [identityReady, patientsReady]) {
        const down = await status(url);
        expect(down.status).toBe(503);
        expect(down.body.down).toEqual(['redis']);
        expect(down.body.checks.database).toBe('up');
      }
      // Still answering GraphQL while Redis is away.
      expect((await gql(system.gatewayUrl, '{ me { id } }')).data).toEqual({ me: null });

      await redis.start();
      await eventually(async () => ((await status(identityReady)).status === 200 ? true : undefined), 15_000, 'identity ready');
      await eventually(async () => ((await status(patientsReady)).status === 200 ? true : undefined), 15_000, 'patients ready');
      // The consumer reads again by itself (recreating its group on this empty Redis): a registration
      // makes its patient again.
      const live = collect(client, 'subscription { patientCreated { userId } }');
      await waitForSubscribers(watcher, 'patients:patientcreated');
      const registered = await gql(system.gatewayUrl, REGISTER, { input: registration() });
      expect(registered.errors).toBeUndefined();
      await live.next((result) => result.data?.patientCreated.userId === registered.data.register.user.id);
    } finally {
      await client.dispose();
      watcher.disconnect();
      await system.stop();
      await redis.remove();
    }
  });
});

describe('process lifecycle', () => {
  it('exits 1 with one line naming REDIS_URL when Redis cannot be reached at start-up', async () => {
    const port = await freePort();
    const service = runBuilt('subgraphs/identity', { REDIS_URL: `redis://127.0.0.1:${port}`, IDENTITY_PORT: '0', LOG_LEVEL: 'silent' });
    const { code } = await service.exited;
    expect(code).toBe(1);
    const lines = service.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/REDIS_URL=redis:\/\/127\.0\.0\.1:\d+/);
    expect(lines[0]).toMatch(/redis-server/);
  });

  it.each([
    ['IDENTITY_PORT', 'not-a-port', 'subgraphs/identity'],
    ['PATIENTS_DATABASE_URL', 'mysql://somewhere/db', 'subgraphs/patients'],
    ['REDIS_URL', 'http://127.0.0.1:6379', 'gateway'],
    ['NODE_ENV', 'staging', 'gateway'],
    ['JWT_PRIVATE_KEY', 'not-a-key', 'subgraphs/identity'],
  ])('exits 1 with one line naming %s when it is %s', async (name, value, dir) => {
    const service = runBuilt(dir, { [name]: value, LOG_LEVEL: 'silent' });
    const { code } = await service.exited;
    expect(code).toBe(1);
    const lines = service.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
  });

  it('identity refuses to start in production without JWT_PRIVATE_KEY, saying which variable to set', async () => {
    const service = runBuilt('subgraphs/identity', { NODE_ENV: 'production', JWT_PRIVATE_KEY: '', IDENTITY_PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: mkdtempSync(join(tmpdir(), 'phos-prod-')) });
    const { code } = await service.exited;
    expect(code).toBe(1);
    const lines = service.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/JWT_PRIVATE_KEY must be set in production/);
  });

  it.each(['subgraphs/identity', 'subgraphs/patients', 'gateway'])('%s stops gracefully on SIGTERM with exit code 0', async (dir) => {
    const data = mkdtempSync(join(tmpdir(), 'phos-lifecycle-'));
    // NODE_ENV development, as `npm start` runs it (under test, Apollo Server would install no signal handlers).
    const service = runBuilt(dir, { NODE_ENV: 'development', DATA_DIR: data, IDENTITY_PORT: '0', PATIENTS_PORT: '0', GATEWAY_PORT: '0', LOG_LEVEL: 'info' });
    await eventually(async () => (service.output().includes('ready') ? true : undefined), 20_000, `${dir} ready`);
    service.child.kill('SIGTERM');
    const { code } = await service.exited;
    rmSync(data, { recursive: true, force: true });
    expect(code).toBe(0);
  });
});
