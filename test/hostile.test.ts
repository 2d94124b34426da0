/**
 * Hostile input, table-driven: every case with the code it must get, against the gateway, each subgraph and
 * the WebSocket path. Afterwards the services still answer and nothing unwanted was created.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { REGISTER, codes, collect, gql, registration, wsClient } from './support/graphql';
import { queryPostgres } from './support/databases';
import { eventually } from './support/redis';
import { startSystem } from './support/system';
import { ownRedis } from './support/processes';
import type { OwnRedis } from './support/processes';
import type { TestSystem } from './support/system';

let system: TestSystem;
let redis: OwnRedis;
beforeAll(async () => {
  // A Redis of the suite's own: its rate-limit counters start at zero on every run.
  redis = await ownRedis();
  system = await startSystem('postgres', { REDIS_URL: redis.url, RATE_LIMIT_LOGIN_PER_IP: '30', RATE_LIMIT_LOGIN_PER_ACCOUNT: '10', RATE_LIMIT_REGISTER_PER_IP: '20' });
});
afterAll(async () => {
  await system?.stop();
  await redis?.remove();
});

const nest = (depth: number) => `{ me { ${'patient { user { '.repeat(Math.ceil((depth - 1) / 2))}id${' } }'.repeat(Math.ceil((depth - 1) / 2))} } }`;
const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
const tokens = (count: number) => `{ me { ${'id '.repeat(count)}} }`;
const costly = `{ ${['a', 'b', 'c', 'd', 'e'].map((a) => `${a}: patients(first: 100) { edges { node { id email firstName lastName createdAt user { id email role firstName lastName registeredAt } } } }`).join(' ')} }`;

/** Documents every endpoint must refuse before running them. */
const documents: [string, string, string][] = [
  ['a query nested 11 deep', nest(12), 'GRAPHQL_VALIDATION_FAILED'],
  ['16 aliases', aliases(16), 'GRAPHQL_VALIDATION_FAILED'],
  ['over 1,000 tokens', tokens(1100), 'GRAPHQL_PARSE_FAILED'],
  ['an id of 40 KB', `{ user(id: "${'x'.repeat(40_000)}") { id } }`, 'BAD_USER_INPUT'],
  ['an id that is no UUID', `{ user(id: "1 or 1=1") { id } }`, 'BAD_USER_INPUT'],
  ['a fragment cycle', '{ me { ...A } } fragment A on User { id ...B } fragment B on User { id ...A }', 'GRAPHQL_VALIDATION_FAILED'],
  ['an unknown field', '{ me { password } }', 'GRAPHQL_VALIDATION_FAILED'],
  ['not GraphQL', 'SELECT * FROM users', 'GRAPHQL_PARSE_FAILED'],
];

describe.each([
  ['the gateway', () => system.gatewayUrl],
  ['identity', () => system.identityUrl],
])('documents refused by %s over HTTP', (_name, url) => {
  it.each(documents)('%s', async (_case, query, code) => {
    const response = await gql(url(), query, {}, system.staffToken);
    expect(codes(response)).toContain(code);
    // Refused documents do not run at all; a refused argument runs nothing else.
    if (code.startsWith('GRAPHQL_')) expect(response.data).toBeUndefined();
    else expect(response.data).toEqual({ user: null });
  });
});

describe('documents refused by patients over HTTP', () => {
  it.each([
    ['a query nested 11 deep', `{ patients { edges { node { ${'user { patient { '.repeat(4)}id${' } }'.repeat(4)} } } } }`, 'GRAPHQL_VALIDATION_FAILED'],
    ['an id that is no UUID', `{ patient(id: "' or 1=1 --") { id } }`, 'BAD_USER_INPUT'],
    ['16 aliases', `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: patients(first: 1) { totalCount }`).join(' ')} }`, 'GRAPHQL_VALIDATION_FAILED'],
    ['over 1,000 tokens', `{ patients { ${'totalCount '.repeat(1100)}} }`, 'GRAPHQL_PARSE_FAILED'],
    ['too costly', `{ ${['a', 'b', 'c', 'd'].map((a) => `${a}: patients(first: 100) { edges { node { id email firstName lastName createdAt userId user { id patient { id email firstName } } } } }`).join(' ')} }`, 'GRAPHQL_VALIDATION_FAILED'],
  ])('%s', async (_case, query, code) => {
    const response = await gql(system.patientsUrl, query, {}, system.staffToken);
    expect(codes(response)).toContain(code);
  });

  it('refuses a costly query at the gateway', async () => {
    expect(codes(await gql(system.gatewayUrl, costly, {}, system.staffToken))).toContain('GRAPHQL_VALIDATION_FAILED');
  });
});

describe.each([
  ['the gateway', () => system.gatewayUrl, 'query'],
  ['the gateway', () => system.gatewayUrl, 'subscription'],
  ['patients', () => system.patientsUrl, 'subscription'],
])('documents refused by %s over the WebSocket (%s)', (_name, url, kind) => {
  const cases: [string, string][] =
    kind === 'query'
      ? [
          ['nested 11 deep', nest(12)],
          ['16 aliases', aliases(16)],
          ['over 1,000 tokens', tokens(1100)],
        ]
      : [
          ['nested 11 deep', 'subscription { patientCreated { user { patient { user { patient { user { patient { user { patient { user { patient { id } } } } } } } } } } }'],
          ['16 aliases', `subscription { patientCreated { ${Array.from({ length: 16 }, (_, i) => `a${i}: id`).join(' ')} } }`],
          ['over 1,000 tokens', `subscription { patientCreated { ${'id '.repeat(1100)}} }`],
        ];
  it.each(cases)('%s', async (_case, query) => {
    const client = wsClient(url(), { authorization: `Bearer ${system.staffToken}` });
    try {
      const operation = collect(client, query);
      const refusal = await eventually(async () => (operation.error as any[] | undefined) ?? operation.results[0]?.errors ?? undefined, 5000, 'the refusal');
      expect(refusal.length).toBeGreaterThan(0);
      expect(operation.results.some((result) => result.data)).toBe(false);
    } finally {
      await client.dispose();
    }
  });
});

describe('register input', () => {
  it.each([
    ['role ADMIN, anonymous', { role: 'ADMIN' }, 'FORBIDDEN'],
    ['role DOCTOR, anonymous', { role: 'DOCTOR' }, 'FORBIDDEN'],
    ['role NURSE, anonymous', { role: 'NURSE' }, 'FORBIDDEN'],
    ['role "admin" in lower case', { role: 'admin' }, 'BAD_USER_INPUT'],
    ['role "Admin"', { role: 'Admin' }, 'BAD_USER_INPUT'],
    ['role as a number', { role: 3 }, 'BAD_USER_INPUT'],
    ['role as a list', { role: ['ADMIN'] }, 'BAD_USER_INPUT'],
    ['an extra isAdmin field', { isAdmin: true }, 'BAD_USER_INPUT'],
    ['an extra id field', { id: '00000000-0000-4000-8000-000000000000' }, 'BAD_USER_INPUT'],
    ['an email of 50,000 characters', { email: `${'a'.repeat(50_000)}@example.org` }, 'BAD_USER_INPUT'],
    ['a first name of 20,000 characters', { firstName: 'x'.repeat(20_000) }, 'BAD_USER_INPUT'],
    ['a password of 10,000 characters', { password: 'p'.repeat(10_000) }, 'BAD_USER_INPUT'],
    ['an SQL-looking email', { email: "x'; drop table users; --@example.org" }, 'BAD_USER_INPUT'],
    ['an email with a newline', { email: 'a@example.org\nBcc: b@example.org' }, 'BAD_USER_INPUT'],
    ['an email with a NUL', { email: 'a\u0000@example.org' }, 'BAD_USER_INPUT'],
    ['two @', { email: 'a@b@example.org' }, 'BAD_USER_INPUT'],
    ['a name with control characters', { lastName: 'Bob\u0007' }, 'BAD_USER_INPUT'],
    ['a null password', { password: null }, 'BAD_USER_INPUT'],
    ['an email as an object', { email: { $gt: '' } }, 'BAD_USER_INPUT'],
  ])('refuses %s', async (_case, overrides, code) => {
    const response = await gql(system.gatewayUrl, REGISTER, { input: { ...registration(), ...overrides } });
    expect(codes(response)).toEqual([code]);
  });

  it('stores injection-looking names as plain text', async () => {
    const input = registration({ firstName: "Robert'); DROP TABLE patients;--", lastName: '<script>alert(1)</script>' });
    const response = await gql(system.gatewayUrl, REGISTER, { input });
    expect(response.data.register.user).toMatchObject({ firstName: input.firstName, lastName: input.lastName });
    expect(await queryPostgres(system.databases.patients, 'select count(*) from patients')).toHaveLength(1);
  });
});

describe('rate limits', () => {
  const LOGIN = 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';
  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const post = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const res = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as { data?: any; errors?: any[] };
  };

  it('limits login per account, with retryAfterSeconds, across addresses', async () => {
    const email = `nobody-${randomBytes(6).toString('hex')}@example.org`;
    const answers: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const response = await post(LOGIN, { email, password: 'wrong password' }, from(`10.1.${i}.1`));
      answers.push(codes(response as never)[0]);
      if (answers.at(-1) === 'RATE_LIMITED') expect(response.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    }
    expect(answers.slice(0, 10)).toEqual(Array(10).fill('INVALID_CREDENTIALS'));
    expect(answers.slice(10)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('counts each aliased attempt in one document', async () => {
    // Right passwords, so every attempt runs (a failed one would end the document): the 11th is refused.
    const input = registration();
    await gql(system.gatewayUrl, REGISTER, { input });
    const batch = `mutation ($email: String!, $password: String!) { ${Array.from({ length: 12 }, (_, i) => `a${i}: login(email: $email, password: $password) { token }`).join(' ')} }`;
    const response = await post(batch, { email: input.email, password: input.password }, from(`10.2.${randomBytes(1)[0]}.${randomBytes(1)[0]}`));
    expect(response.errors?.[0]).toMatchObject({ path: ['a10'], extensions: { code: 'RATE_LIMITED' } });
  });

  it('limits register per address', async () => {
    const ip = `10.3.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    const answers: (string | undefined)[] = [];
    for (let i = 0; i < 21; i += 1) answers.push(codes((await post(REGISTER, { input: registration({ password: 'short' }) }, from(ip))) as never)[0]);
    expect(answers.slice(0, 20)).toEqual(Array(20).fill('BAD_USER_INPUT'));
    expect(answers[20]).toBe('RATE_LIMITED');
  });
});

describe('HTTP and WebSocket transport', () => {
  it('refuses batched HTTP requests', async () => {
    const res = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]) });
    expect(res.status).toBe(400);
  });

  it('refuses a mutation by GET and a simple cross-site POST (CSRF prevention)', async () => {
    const get = await fetch(`${system.gatewayUrl}?query=${encodeURIComponent('mutation { login(email: "a@b.co", password: "x") { token } }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(405);
    const simple = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ me { id } }' }) });
    expect(simple.status).toBe(400);
  });

  it.each([
    ['the gateway', () => system.gatewayUrl],
    ['patients', () => system.patientsUrl],
  ])('refuses a subscription over HTTP at %s with 400 BAD_REQUEST, and serves the next request', async (_name, url) => {
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${system.adminToken}` }, body: JSON.stringify({ query: 'subscription { patientCreated { id } }' }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_REQUEST' }) })]);
    expect(body.errors[0].message).toMatch(/WebSockets \(graphql-ws/);
    const next = await gql(url(), '{ patients(first: 1) { totalCount } }', {}, system.adminToken);
    expect(next.errors).toBeUndefined();
  });

  const socketClose = (url: string, send: (socket: WebSocket) => void) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      socket.on('open', () => send(socket));
      socket.on('error', () => undefined);
      socket.on('close', (code) => resolve(code));
    });

  it.each([
    ['the gateway', () => system.gatewayUrl],
    ['patients', () => system.patientsUrl],
  ])('closes %s sockets that send frames over 64 KiB (1009) or subscribe before connection_init (4401)', async (_name, url) => {
    // The refusal goes to the structured log, not to the console.
    const consoleError = jest.spyOn(console, 'error');
    try {
      expect(await socketClose(url(), (socket) => socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(70_000) } })))).toBe(1009);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
    expect(await socketClose(url(), (socket) => socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { patientCreated { id } }' } })))).toBe(4401);
  });

  it.each(['gateway', 'patients'] as const)('takes 100 operations on one connection and refuses the 101st (%s)', async (service) => {
    const client = wsClient(service === 'gateway' ? system.gatewayUrl : system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const subscriptions = Array.from({ length: 100 }, () => collect(client, 'subscription { patientCreated { id } }'));
      const extra = collect(client, 'subscription { patientCreated { id } }');
      const refusal = await eventually(async () => (extra.error as any[] | undefined) ?? undefined, 5000, 'the refusal');
      expect(refusal[0].message).toMatch(/At most 100/);
      // Answers come in order: a refusal of any of the first hundred would have arrived before this one.
      expect(subscriptions.filter((s) => s.error)).toHaveLength(0);
    } finally {
      await client.dispose();
    }
  });
});

describe('after all of that', () => {
  it('still answers, and created no ADMIN and no user from a refused registration', async () => {
    expect((await gql(system.gatewayUrl, '{ me { id } }')).data).toEqual({ me: null });
    const admins = await queryPostgres<{ count: string }>(system.databases.identity, "select count(*) from users where role = 'ADMIN'");
    expect(Number(admins[0].count)).toBe(1);
    const odd = await queryPostgres<{ count: string }>(system.databases.identity, "select count(*) from users where email like '%drop table%' or length(email) > 254 or length(first_name) > 100");
    expect(Number(odd[0].count)).toBe(0);
  });
});

describe('production', () => {
  let production: TestSystem;
  beforeAll(async () => {
    production = await startSystem('sqlite', { NODE_ENV: 'production', WS_ALLOWED_ORIGINS: 'https://staff.example.org' });
  });
  afterAll(async () => {
    await production?.stop();
  });

  it('has no introspection, no landing page and no "Did you mean" hints', async () => {
    const introspection = await gql(production.gatewayUrl, '{ __schema { types { name } } }');
    expect(codes(introspection)).toContain('GRAPHQL_VALIDATION_FAILED');
    const typo = await gql(production.gatewayUrl, '{ mee { id } }');
    expect(typo.errors![0].message).not.toMatch(/Did you mean/);
    const page = await fetch(production.gatewayUrl.replace(/\/graphql$/, '/'), { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/<html/i);
  });

  it('opens WebSockets only from allowed origins', async () => {
    const open = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(production.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers: { origin } });
        socket.on('open', () => {
          socket.close();
          resolve('open');
        });
        socket.on('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
        socket.on('error', () => undefined);
      });
    expect(await open('https://evil.example.org')).toBe('403');
    expect(await open('https://staff.example.org')).toBe('open');
  });

  it('masks unexpected errors: no stack, no internals', async () => {
    const response = await gql(production.gatewayUrl, '{ patients(first: 5, after: "bm90IGpzb24") { totalCount } }', {}, production.staffToken);
    expect(JSON.stringify(response)).not.toMatch(/stacktrace|at .*\.js/);
  });
});
