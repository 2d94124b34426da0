/**
 * The registration flow end to end, through the gateway, on PostgreSQL and on the embedded SQLite default:
 * register, see the patient arrive live on the patients subgraph, read it back joined across subgraphs.
 */
import { Redis as RedisClient } from 'ioredis';
import type { Redis } from 'ioredis';
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { PATIENT_CREATED_CHANNEL, redisClient, waitForSubscribers } from './support/redis';
import { REDIS_URL, startSystem } from './support/system';
import type { TestSystem } from './support/system';

const PATIENT_CREATED = `subscription { patientCreated { id userId email firstName lastName createdAt } }`;

describe.each(['postgres', 'sqlite'] as const)('registration flow on %s', (kind) => {
  let system: TestSystem;
  let redis: Redis;

  beforeAll(async () => {
    system = await startSystem(kind);
    redis = redisClient();
  });
  afterAll(async () => {
    await redis?.quit();
    await system?.stop();
  });

  it('creates a patient for a PATIENT, delivers it live, and joins it with its user', async () => {
    const client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const live = collect(client, PATIENT_CREATED);
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);

      const input = registration({ firstName: '  Grace ', lastName: 'Hopper' });
      const registered = await gql(system.gatewayUrl, REGISTER, { input });
      expect(registered.errors).toBeUndefined();
      const { token, user } = registered.data.register;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(user).toMatchObject({ email: input.email, role: 'PATIENT', firstName: 'Grace', lastName: 'Hopper' });
      expect(new Date(user.registeredAt).toISOString()).toBe(user.registeredAt);

      const event = await live.next((result) => result.data?.patientCreated.userId === user.id);
      const patient = event.data!.patientCreated;
      expect(patient).toMatchObject({ userId: user.id, email: input.email, firstName: 'Grace', lastName: 'Hopper' });
      expect(new Date(patient.createdAt).toISOString()).toBe(patient.createdAt);

      const joined = await gql(system.gatewayUrl, `query ($id: ID!) { patient(id: $id) { id email user { id email role registeredAt } } }`, { id: patient.id }, token);
      expect(joined.errors).toBeUndefined();
      expect(joined.data.patient).toEqual({ id: patient.id, email: input.email, user: { id: user.id, email: input.email, role: 'PATIENT', registeredAt: user.registeredAt } });

      const back = await gql(system.gatewayUrl, `query ($id: ID!) { user(id: $id) { id patient { id userId } } }`, { id: user.id }, token);
      expect(back.data.user).toEqual({ id: user.id, patient: { id: patient.id, userId: user.id } });

      const me = await gql(system.gatewayUrl, `{ me { id email patient { id } } }`, {}, token);
      expect(me.data.me).toEqual({ id: user.id, email: input.email, patient: { id: patient.id } });
    } finally {
      await client.dispose();
    }
  });

  it("delivers only this deployment's patients when another deployment shares the Redis server on database 0", async () => {
    // PUB/SUB channels are one namespace for the whole Redis server; keys and streams are per database.
    expect(PATIENT_CREATED_CHANNEL).toBe('patients:patientcreated@15');
    const client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    const neighbour = new RedisClient(REDIS_URL.replace(/\/\d+$/, '/0'));
    try {
      const live = collect(client, PATIENT_CREATED);
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
      // The other deployment, on database 0, announces one of its patients on its own channel.
      const foreign = { id: '0b7e1c1e-0000-4000-8000-00000000f00d', userId: '0b7e1c1e-0000-4000-8000-00000000beef', email: 'neighbour@example.org', firstName: 'Other', lastName: 'Deployment', createdAt: new Date().toISOString() };
      await neighbour.publish('patients:patientcreated', JSON.stringify(foreign));
      const { data } = await gql(system.gatewayUrl, REGISTER, { input: registration() });
      await live.next((result) => result.data?.patientCreated.userId === data.register.user.id);
      expect(live.results.map((result) => result.data?.patientCreated.userId)).not.toContain(foreign.userId);
    } finally {
      neighbour.disconnect();
      await client.dispose();
    }
  });

  it('creates no patient for a DOCTOR', async () => {
    const client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const live = collect(client, PATIENT_CREATED);
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
      const doctor = await gql(system.gatewayUrl, REGISTER, { input: registration({ role: 'DOCTOR' }) }, system.adminToken);
      expect(doctor.data.register.user.role).toBe('DOCTOR');
      // A patient registered after the doctor: once it has arrived, the doctor's event has been handled too.
      const patient = await gql(system.gatewayUrl, REGISTER, { input: registration() });
      await live.next((result) => result.data?.patientCreated.userId === patient.data.register.user.id);

      const doctorId = doctor.data.register.user.id;
      const read = await gql(system.gatewayUrl, `query ($id: ID!) { user(id: $id) { role patient { id } } }`, { id: doctorId }, system.staffToken);
      expect(read.data.user).toEqual({ role: 'DOCTOR', patient: null });
      expect(live.results.some((result) => result.data?.patientCreated.userId === doctorId)).toBe(false);
    } finally {
      await client.dispose();
    }
  });

  it('pages patients newest first with opaque cursors', async () => {
    const client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const live = collect(client, PATIENT_CREATED);
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const { data } = await gql(system.gatewayUrl, REGISTER, { input: registration() });
        const event = await live.next((result) => result.data?.patientCreated.userId === data.register.user.id);
        ids.push(event.data!.patientCreated.id);
      }
      const PAGE = `query ($first: Int, $after: String) { patients(first: $first, after: $after) {
        totalCount edges { cursor node { id user { id } } } pageInfo { hasNextPage endCursor } } }`;
      const first = await gql(system.gatewayUrl, PAGE, { first: 2 }, system.staffToken);
      expect(first.errors).toBeUndefined();
      const page1 = first.data.patients;
      expect(page1.totalCount).toBeGreaterThanOrEqual(3);
      expect(page1.edges.map((edge: any) => edge.node.id)).toEqual([ids[2], ids[1]]);
      expect(page1.pageInfo).toEqual({ hasNextPage: true, endCursor: page1.edges[1].cursor });

      const second = await gql(system.gatewayUrl, PAGE, { first: 1, after: page1.pageInfo.endCursor }, system.staffToken);
      expect(second.data.patients.edges.map((edge: any) => edge.node.id)).toEqual([ids[0]]);
      expect(second.data.patients.edges[0].node.user.id).toBeDefined();
    } finally {
      await client.dispose();
    }
  });
});
