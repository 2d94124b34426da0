/**
 * The gateway reloads its supergraph file: new operations use the new schema, running subscriptions go on.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTER, codes, collect, gql, registration, wsClient } from './support/graphql';
import { ROOT } from './support/processes';
import { PATIENT_CREATED_CHANNEL, eventually, redisClient, waitForSubscribers } from './support/redis';
import { startSystem } from './support/system';

it('serves a changed supergraph file to new operations while running subscriptions carry on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'phos-supergraph-'));
  const path = join(dir, 'supergraph.graphql');
  copyFileSync(join(ROOT, 'schema', 'supergraph.graphql'), path);
  const system = await startSystem('sqlite', { SUPERGRAPH_PATH: path });
  const redis = redisClient();
  const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${system.staffToken}` });
  try {
    const running = collect(client, 'subscription { patientCreated { userId lastName user { email } } }');
    await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
    const LAST_NAMES = '{ patients(first: 1) { edges { node { lastName } } } }';
    expect((await gql(system.gatewayUrl, LAST_NAMES, {}, system.staffToken)).errors).toBeUndefined();

    // A new supergraph without Patient.lastName (as after a subgraph dropped it).
    const sdl = readFileSync(path, 'utf8');
    const patientType = sdl.indexOf('type Patient');
    const lastName = sdl.indexOf('  lastName: String!\n', patientType);
    expect(lastName).toBeGreaterThan(patientType);
    writeFileSync(path, sdl.slice(0, lastName) + sdl.slice(lastName + '  lastName: String!\n'.length));

    await eventually(async () => (codes(await gql(system.gatewayUrl, LAST_NAMES, {}, system.staffToken)).includes('GRAPHQL_VALIDATION_FAILED') ? true : undefined), 15_000, 'the new supergraph');
    const fresh = collect(client, 'subscription { patientCreated { userId lastName } }');
    await eventually(async () => (fresh.error ? true : undefined), 5000, 'the new subscription to be refused');

    const registered = await gql(system.gatewayUrl, REGISTER, { input: registration({ lastName: 'Reloaded' }) });
    const result = await running.next((r) => r.data?.patientCreated.userId === registered.data.register.user.id);
    expect(result.data!.patientCreated).toMatchObject({ lastName: 'Reloaded', user: { email: expect.any(String) } });
  } finally {
    await client.dispose();
    await redis.quit();
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
