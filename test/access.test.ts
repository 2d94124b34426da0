/**
 * Who may do what (the access table of the README), through the gateway, straight at each subgraph, and on
 * the WebSocket path; plus the audit log of patient reads.
 */
import { SignJWT } from 'jose';
import { REGISTER, codes, collect, gql, registration, wsClient } from './support/graphql';
import { queryPostgres } from './support/databases';
import { eventually } from './support/redis';
import { signTestToken, startSystem } from './support/system';
import { generateKeyPairSync } from 'node:crypto';
import type { TestSystem } from './support/system';
import WebSocket from 'ws';

let system: TestSystem;
const tokens: Record<string, string | undefined> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  system = await startSystem('postgres');
  const live = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
  const created = collect(live, 'subscription { patientCreated { id userId } }');
  for (const name of ['alice', 'bob']) {
    const { data } = await gql(system.gatewayUrl, REGISTER, { input: registration() });
    tokens[name] = data.register.token;
    ids[name] = data.register.user.id;
  }
  for (const name of ['alice', 'bob']) {
    const result = await created.next((r) => r.data?.patientCreated.userId === ids[name]);
    ids[`${name}Patient`] = result.data!.patientCreated.id;
  }
  await live.dispose();
  tokens.doctor = system.staffToken;
  tokens.admin = system.adminToken;
  tokens.anonymous = undefined;
});
afterAll(async () => {
  await system?.stop();
});

type Who = 'anonymous' | 'alice' | 'doctor' | 'admin';
type Expect = 'ok' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN';
const WHO: Who[] = ['anonymous', 'alice', 'doctor', 'admin'];

/** Each operation with its answer per caller: alice is a PATIENT, bob another PATIENT. */
const table: { name: string; query: string; variables: () => Record<string, unknown>; expect: Record<Who, Expect> }[] = [
  {
    name: 'register as PATIENT',
    query: REGISTER,
    variables: () => ({ input: registration() }),
    expect: { anonymous: 'ok', alice: 'ok', doctor: 'ok', admin: 'ok' },
  },
  ...(['DOCTOR', 'NURSE', 'ADMIN'] as const).map((role) => ({
    name: `register as ${role}`,
    query: REGISTER,
    variables: () => ({ input: registration({ role }) }),
    expect: { anonymous: 'FORBIDDEN', alice: 'FORBIDDEN', doctor: 'FORBIDDEN', admin: 'ok' } as Record<Who, Expect>,
  })),
  { name: 'me', query: '{ me { id } }', variables: () => ({}), expect: { anonymous: 'null', alice: 'ok', doctor: 'ok', admin: 'ok' } },
  { name: 'user(own id)', query: 'query ($id: ID!) { user(id: $id) { id email } }', variables: () => ({ id: ids.alice }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'ok', doctor: 'ok', admin: 'ok' } },
  { name: "user(another's id)", query: 'query ($id: ID!) { user(id: $id) { id email } }', variables: () => ({ id: ids.bob }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'FORBIDDEN', doctor: 'ok', admin: 'ok' } },
  { name: 'patient(own id)', query: 'query ($id: ID!) { patient(id: $id) { id email user { id } } }', variables: () => ({ id: ids.alicePatient }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'ok', doctor: 'ok', admin: 'ok' } },
  { name: "patient(another's id)", query: 'query ($id: ID!) { patient(id: $id) { id email } }', variables: () => ({ id: ids.bobPatient }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'FORBIDDEN', doctor: 'ok', admin: 'ok' } },
  { name: 'patient(unknown id)', query: 'query ($id: ID!) { patient(id: $id) { id } }', variables: () => ({ id: '00000000-0000-4000-8000-000000000000' }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'FORBIDDEN', doctor: 'null', admin: 'null' } },
  { name: 'me { patient }', query: '{ me { patient { id } } }', variables: () => ({}), expect: { anonymous: 'null', alice: 'ok', doctor: 'null', admin: 'null' } },
  { name: "user(another's id) { patient }", query: 'query ($id: ID!) { user(id: $id) { patient { id email } } }', variables: () => ({ id: ids.bob }), expect: { anonymous: 'UNAUTHENTICATED', alice: 'FORBIDDEN', doctor: 'ok', admin: 'ok' } },
  { name: 'patients', query: '{ patients(first: 5) { totalCount edges { node { id email } } } }', variables: () => ({}), expect: { anonymous: 'UNAUTHENTICATED', alice: 'FORBIDDEN', doctor: 'ok', admin: 'ok' } },
];

function outcome(response: { data?: any; errors?: any[] }): Expect | string {
  if (response.errors?.length) return codes(response as never)[0];
  const value = response.data && Object.values(response.data)[0];
  if (value === null || (value && typeof value === 'object' && Object.values(value).every((v) => v === null))) return 'null';
  return 'ok';
}

describe.each(WHO)('as %s, through the gateway', (who) => {
  it.each(table.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const response = await gql(system.gatewayUrl, row.query, row.variables(), tokens[who]);
    expect(outcome(response)).toBe(row.expect[who]);
  });
});

describe('straight at the subgraphs (the rules hold without the gateway)', () => {
  const USER_ENTITY = 'query ($id: ID!) { _entities(representations: [{ __typename: "User", id: $id }]) { ... on User { email } } }';
  const PATIENT_ENTITY = 'query ($id: ID!) { _entities(representations: [{ __typename: "Patient", id: $id }]) { ... on Patient { email } } }';
  const PATIENT_OF_USER = 'query ($id: ID!) { _entities(representations: [{ __typename: "User", id: $id }]) { ... on User { patient { email } } } }';
  it.each([
    ['identity User entity', 'identity', USER_ENTITY, 'bob', 'anonymous', 'UNAUTHENTICATED'],
    ['identity User entity', 'identity', USER_ENTITY, 'bob', 'alice', 'FORBIDDEN'],
    ['identity User entity', 'identity', USER_ENTITY, 'bob', 'doctor', 'ok'],
    ['patients Patient entity', 'patients', PATIENT_ENTITY, 'bobPatient', 'anonymous', 'UNAUTHENTICATED'],
    ['patients Patient entity', 'patients', PATIENT_ENTITY, 'bobPatient', 'alice', 'FORBIDDEN'],
    ['patients Patient entity', 'patients', PATIENT_ENTITY, 'alicePatient', 'alice', 'ok'],
    ['patients User.patient', 'patients', PATIENT_OF_USER, 'bob', 'alice', 'FORBIDDEN'],
    ['patients User.patient', 'patients', PATIENT_OF_USER, 'bob', 'anonymous', 'UNAUTHENTICATED'],
    ['patients list', 'patients', '{ patients { totalCount } }', 'bob', 'anonymous', 'UNAUTHENTICATED'],
    ['patients list', 'patients', '{ patients { totalCount } }', 'bob', 'alice', 'FORBIDDEN'],
  ] as const)('%s at %s for %s as %s: %s', async (_name, service, query, id, who, expected) => {
    const url = service === 'identity' ? system.identityUrl : system.patientsUrl;
    const response = await gql(url, query, { id: ids[id] }, tokens[who]);
    expect(response.errors ? codes(response)[0] : 'ok').toBe(expected);
  });
});

describe('tokens', () => {
  const forge = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => signTestToken({ sub: ids.alice, role: 'ADMIN', ...claims }, system.config, header);
  const unsigned = (claims: Record<string, unknown>) =>
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

  it('are EdDSA tokens whose public keys identity publishes at /.well-known/jwks.json', async () => {
    const jwks = (await (await fetch(system.identityUrl.replace(/\/graphql$/, '/.well-known/jwks.json'))).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: expect.any(String) });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const [header, payload] = tokens.alice!.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'EdDSA', kid: jwks.keys[0].kid });
    expect(payload).toMatchObject({ sub: ids.alice, role: 'PATIENT', iss: 'phos-identity', aud: 'phos' });
    expect(payload.exp - payload.iat).toBe(900);
  });

  it.each([
    ['alg none claiming ADMIN', async () => unsigned({ sub: ids.alice, role: 'ADMIN', iss: 'phos-identity', aud: 'phos', exp: 9_999_999_999, iat: 1 })],
    ['HS256 signed with the public key', async () => {
      const jwks = (await (await fetch(system.identityUrl.replace(/\/graphql$/, '/.well-known/jwks.json'))).json()) as { keys: Record<string, string>[] };
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'ADMIN', iss: 'phos-identity', aud: 'phos', iat: now, exp: now + 300, sub: ids.alice })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    }],
    ['signed with another Ed25519 key', async () => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'ADMIN', iss: 'phos-identity', aud: 'phos', iat: now, exp: now + 300, sub: ids.alice })
        .setProtectedHeader({ alg: 'EdDSA' })
        .sign(generateKeyPairSync('ed25519').privateKey);
    }],
    ['of another issuer', () => forge({ iss: 'evil' })],
    ['for another audience', () => forge({ aud: 'evil' })],
    ['without expiry', () => forge({ exp: undefined })],
    ['without a subject', () => forge({ sub: undefined })],
    ['expired', () => forge({ iat: 1, exp: 61 })],
    ['expired a minute ago', () => forge({ exp: Math.floor(Date.now() / 1000) - 60 })],
    ['with an unknown kid', () => forge({}, { kid: 'not-a-key' })],
    ['tampered (role changed after signing)', async () => {
      const [header, payload, signature] = tokens.alice!.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      return `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'ADMIN' })).toString('base64url')}.${signature}`;
    }],
    ['not a JWT', async () => 'garbage'],
  ])('refuses a token %s', async (_name, make) => {
    const token = await make();
    const response = await gql(system.gatewayUrl, '{ patients { totalCount } }', {}, token);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    const escalate = await gql(system.gatewayUrl, REGISTER, { input: registration({ role: 'ADMIN' }) }, token);
    expect(codes(escalate)).toEqual(['UNAUTHENTICATED']);
    const direct = await gql(system.patientsUrl, '{ patients { totalCount } }', {}, token);
    expect(codes(direct)).toEqual(['UNAUTHENTICATED']);
  });

  it('accepts a well-formed token signed with the key (the forgeries above fail for their flaw alone)', async () => {
    const response = await gql(system.gatewayUrl, '{ patients(first: 1) { totalCount } }', {}, await forge({}));
    expect(response.errors).toBeUndefined();
  });
});

describe('caches', () => {
  it.each([
    ['the gateway', () => system.gatewayUrl, () => tokens.doctor, '{ patients(first: 5) { edges { node { id email user { email } } } } }'],
    ['patients', () => system.patientsUrl, () => tokens.doctor, '{ patients(first: 5) { edges { node { id email } } } }'],
    ['identity', () => system.identityUrl, () => tokens.alice, '{ me { id email } }'],
  ])('are told by %s to store no answer, and get no validator to revalidate one', async (_name, url, token, query) => {
    for (const method of ['POST', 'GET'] as const) {
      const body = JSON.stringify({ query });
      const res = await fetch(method === 'GET' ? `${url()}?query=${encodeURIComponent(query)}` : url(), {
        method,
        headers: { authorization: `Bearer ${token()}`, 'apollo-require-preflight': 'true', ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body } : {}),
      });
      const result = (await res.json()) as { data?: unknown; errors?: unknown };
      expect(result.errors).toBeUndefined();
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('etag')).toBeNull();
    }
  });
});

describe('on the WebSocket', () => {
  const closeCode = (url: string, authorization: string) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
      socket.on('close', (code) => resolve(code));
    });

  it.each(['gateway', 'patients'] as const)('closes with 4403 on a bad token at connection_init (%s)', async (service) => {
    const url = service === 'gateway' ? system.gatewayUrl : system.patientsUrl;
    expect(await closeCode(url, 'Bearer not-a-token')).toBe(4403);
  });

  it.each([
    ['gateway', 'anonymous', 'UNAUTHENTICATED'],
    ['gateway', 'alice', 'FORBIDDEN'],
    ['patients', 'anonymous', 'UNAUTHENTICATED'],
    ['patients', 'alice', 'FORBIDDEN'],
  ] as const)('refuses patientCreated at the %s to %s with %s', async (service, who, code) => {
    const client = wsClient(service === 'gateway' ? system.gatewayUrl : system.patientsUrl, tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : undefined);
    try {
      const subscription = collect(client, 'subscription { patientCreated { id } }');
      // The gateway refuses before it starts (a graphql-ws `error`); the subgraph's resolver refuses with a
      // result carrying the error, then completes.
      const error = await eventually(async () => (subscription.error as any[] | undefined) ?? subscription.results[0]?.errors ?? undefined, 5000, 'the refusal');
      expect(error[0].extensions.code).toBe(code);
      expect(subscription.results.some((result) => result.data)).toBe(false);
    } finally {
      await client.dispose();
    }
  });

  it.each([
    ['a fragment spread', 'subscription { ...Created } fragment Created on Subscription { patientCreated { id email } }'],
    ['an inline fragment', 'subscription { ... on Subscription { patientCreated { id email } } }'],
  ])('refuses patientCreated at the gateway itself when the root field is behind %s', async (_form, query) => {
    const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${tokens.alice}` });
    try {
      const subscription = collect(client, query);
      // A graphql-ws `error` before anything starts: the gateway's own check, not the subgraph's refusal.
      const error = await eventually(async () => (subscription.error as any[] | undefined) ?? subscription.results[0]?.errors ?? undefined, 5000, 'the refusal');
      expect(subscription.error).toBeDefined();
      expect(error[0].extensions.code).toBe('FORBIDDEN');
      expect(subscription.results).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it("reads only a patient's own record over the WebSocket too", async () => {
    const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${tokens.alice}` });
    try {
      const own = collect(client, 'query ($id: ID!) { patient(id: $id) { id } }', { id: ids.alicePatient });
      expect((await own.next()).data).toEqual({ patient: { id: ids.alicePatient } });
      const other = collect(client, 'query ($id: ID!) { patient(id: $id) { id } }', { id: ids.bobPatient });
      const result = await other.next();
      expect(result.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    } finally {
      await client.dispose();
    }
  });

  it('ends a subscription with UNAUTHENTICATED when its token expires', async () => {
    const soon = await signTestToken({ sub: ids.alice, role: 'DOCTOR', exp: Math.floor(Date.now() / 1000) + 2 }, system.config);
    for (const url of [system.gatewayUrl, system.patientsUrl]) {
      const client = wsClient(url, { authorization: `Bearer ${soon}` });
      try {
        const subscription = collect(client, 'subscription { patientCreated { id } }');
        const error = await eventually(async () => (subscription.error as any[] | undefined) ?? undefined, 15_000, 'the subscription to end');
        expect(error[0].extensions.code).toBe('UNAUTHENTICATED');
      } finally {
        await client.dispose();
      }
    }
  });
});

it('records each live feed of new patients as a watch, from its start to its end', async () => {
  const doctorId = (JSON.parse(Buffer.from(tokens.doctor!.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
  const watches = () =>
    queryPostgres<{ id: string; actor_role: string; field: string; ended_at: Date | null }>(system.databases.patients, 'select id, actor_role, field, ended_at from watch_log where actor_id = $1 order by started_at', [doctorId]);
  const before = (await watches()).length;
  const client = wsClient(system.patientsUrl, { authorization: `Bearer ${tokens.doctor}` });
  let watch: { id: string; actor_role: string; field: string; ended_at: Date | null };
  try {
    collect(client, 'subscription { patientCreated { id email } }');
    watch = await eventually(async () => (await watches())[before], 5000, 'the watch to start');
    expect(watch).toMatchObject({ actor_role: 'DOCTOR', field: 'patientCreated', ended_at: null });
  } finally {
    await client.dispose();
  }
  // The socket closed: the watch ends.
  await eventually(async () => ((await watches()).find((row) => row.id === watch.id)?.ended_at ? true : undefined), 5000, 'the watch to end');
  // A refused subscription is no watch.
  const refused = wsClient(system.patientsUrl, { authorization: `Bearer ${tokens.alice}` });
  try {
    const subscription = collect(refused, 'subscription { patientCreated { id } }');
    await eventually(async () => (subscription.results[0]?.errors ? true : undefined), 5000, 'the refusal');
  } finally {
    await refused.dispose();
  }
  const aliceWatches = await queryPostgres(system.databases.patients, "select id from watch_log where actor_id = $1 and actor_role = 'PATIENT'", [ids.alice]);
  expect(aliceWatches).toEqual([]);
});

it('records the end of the watches a stop of the patients subgraph ends', async () => {
  const client = wsClient(system.patientsUrl, { authorization: `Bearer ${tokens.admin}` });
  const adminId = (JSON.parse(Buffer.from(tokens.admin!.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
  const open = () => queryPostgres<{ id: string }>(system.databases.patients, 'select id from watch_log where actor_id = $1 and ended_at is null', [adminId]);
  try {
    collect(client, 'subscription { patientCreated { id } }');
    await eventually(async () => ((await open()).length === 1 ? true : undefined), 5000, 'the watch to start');
    await system.stopPatients();
    expect(await open()).toEqual([]);
  } finally {
    await client.dispose();
    await system.startPatients();
  }
});

it('writes an audit entry for every read of a patient record', async () => {
  const before = await queryPostgres<{ count: string }>(system.databases.patients, "select count(*) from audit_log where patient_id = $1 and action = 'read' and actor_id = $2", [ids.bobPatient, ids.alice]);
  await gql(system.gatewayUrl, 'query ($id: ID!) { patient(id: $id) { id } }', { id: ids.alicePatient }, tokens.alice);
  const rows = await queryPostgres<{ actor_id: string; actor_role: string; action: string }>(
    system.databases.patients,
    "select actor_id, actor_role, action from audit_log where patient_id = $1 order by at",
    [ids.alicePatient],
  );
  expect(rows[0]).toMatchObject({ actor_id: null, actor_role: 'SYSTEM', action: 'create' });
  expect(rows).toContainEqual({ actor_id: ids.alice, actor_role: 'PATIENT', action: 'read' });
  // A refused read of another's record is not a read.
  expect(Number(before[0].count)).toBe(0);
});
