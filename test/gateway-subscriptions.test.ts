import { ApolloClient, InMemoryCache, gql as apolloGql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { subscriptionStats } from '@phos/gateway';
import * as auth from '@phos/shared/auth';
import { AuthForwardingDataSource } from '../gateway/src/subgraphs';
import { REGISTER, collect, gql, registration, resultsCollector, wsClient } from './support/graphql';
import { PATIENT_CREATED_CHANNEL, eventually, redisClient } from './support/redis';
import { staffTokens, startSystem } from './support/system';
import type { TestSystem } from './support/system';

const PATIENT_CREATED = `subscription { patientCreated { id firstName user { email role registeredAt } } }`;

type Events = Pick<ReturnType<typeof collect>, 'next'>;

/** Registers a PATIENT through the gateway. */
async function registerPatient(system: TestSystem) {
  const input = registration();
  const response = await gql(system.gatewayUrl, REGISTER, { input });
  if (!response.data) throw new Error(`register failed: ${JSON.stringify(response.errors)}`);
  return { userId: response.data.register.user.id as string, email: input.email, token: response.data.register.token as string };
}

/**
 * Registers patients until one of them reaches every one of `streams`: a patient registered before the
 * patients subgraph's Redis subscription is live is never delivered (PUB/SUB keeps nothing), so the first
 * may be missed. Resolves to the user, and the result each stream got for it.
 */
async function registerUntilDelivered(system: TestSystem, streams: Events[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const user = await registerPatient(system);
    try {
      const mentions = (result: unknown) => JSON.stringify(result).includes(user.userId) || JSON.stringify(result).includes(user.email);
      const results: any[] = await Promise.all(streams.map((events) => events.next(mentions, 1500)));
      return { user, results };
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

/** The first thing the server answers to one operation: `next`, `error` or `complete`. */
function firstOutcome(client: Client, query: string, variables?: Record<string, unknown>) {
  return new Promise<{ kind: 'next' | 'error' | 'complete'; value?: any }>((resolve) => {
    const stop = client.subscribe(
      { query, variables },
      {
        next: (value) => {
          stop();
          resolve({ kind: 'next', value });
        },
        error: (value) => resolve({ kind: 'error', value }),
        complete: () => resolve({ kind: 'complete' }),
      },
    );
  });
}

/** A raw graphql-transport-ws socket, for protocol-level checks; resolves once open. */
async function rawSocket(url: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

/** An Apollo Client over GraphQLWsLink, subscribed to `query`; collects results like `collect`. */
function apolloSubscription(url: string, query: string, token: string) {
  const wsLinkClient = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const apollo = new ApolloClient({ link: new GraphQLWsLink(wsLinkClient), cache: new InMemoryCache() });
  const collector = resultsCollector<any>();
  const subscription = apollo.subscribe({ query: apolloGql(query) }).subscribe({ next: (result) => collector.push(result) });
  return {
    next: collector.next,
    async stop() {
      subscription.unsubscribe();
      apollo.stop();
      await wsLinkClient.dispose();
    },
  };
}

async function redisSubscribers(redis: ReturnType<typeof redisClient>): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', PATIENT_CREATED_CHANNEL)) as [string, number];
  return Number(count);
}

/** Waits until the gateway holds no client or upstream subscription or socket any more. */
function nothingOpen() {
  return eventually(async () => {
    const stats = subscriptionStats();
    return Object.values(stats).every((count) => count === 0) ? stats : undefined;
  }, 15_000, `subscription stats back to 0 (${JSON.stringify(subscriptionStats())})`);
}

describe('subscriptions through the gateway (sqlite)', () => {
  let system: TestSystem;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  // Watching patients is for staff: every client signs in as the test DOCTOR unless told otherwise.
  const client = (connectionParams?: Record<string, unknown>) => {
    const created = wsClient(system.gatewayUrl, connectionParams ?? { authorization: `Bearer ${system.staffToken}` });
    cleanups.push(() => created.dispose());
    return created;
  };

  beforeAll(async () => {
    system = await startSystem('sqlite');
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('delivers each new patient with user fields resolved by identity', async () => {
    const events = collect(client(), PATIENT_CREATED);
    const { user, results } = await registerUntilDelivered(system, [events]);
    expect(results[0]).toEqual({
      data: {
        patientCreated: {
          id: expect.any(String),
          firstName: 'Ada',
          user: { email: user.email, role: 'PATIENT', registeredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) },
        },
      },
    });
  });

  it('serves aliases, fragments, variables and __typename, and two clients with different selections at once', async () => {
    const detailed = collect(
      client(),
      `subscription Watch($withUser: Boolean!) {
        created: patientCreated {
          __typename
          patientId: id
          ...Names
          user @include(if: $withUser) { __typename ... on User { id mail: email } patient { id } }
        }
      }
      fragment Names on Patient { firstName lastName userId }`,
      { withUser: true },
    );
    const minimal = collect(client(), 'subscription { patientCreated { id user { id role } } }');
    const { user, results } = await registerUntilDelivered(system, [detailed, minimal]);
    const patientId = results[1].data.patientCreated.id;
    expect(results[0]).toEqual({
      data: {
        created: {
          __typename: 'Patient',
          patientId,
          firstName: 'Ada',
          lastName: 'Lovelace',
          userId: user.userId,
          user: { __typename: 'User', id: user.userId, mail: user.email, patient: { id: patientId } },
        },
      },
    });
    expect(results[1]).toEqual({ data: { patientCreated: { id: patientId, user: { id: user.userId, role: 'PATIENT' } } } });
  });

  it('works with Apollo Client (GraphQLWsLink)', async () => {
    const subscription = apolloSubscription(system.gatewayUrl, 'subscription OnPatient { patientCreated { id user { id email } } }', system.staffToken);
    cleanups.push(() => subscription.stop());
    const { user, results } = await registerUntilDelivered(system, [subscription]);
    expect(results[0].data.patientCreated).toEqual({ __typename: 'Patient', id: expect.any(String), user: { __typename: 'User', id: user.userId, email: user.email } });
  });

  it('runs queries and mutations over the WebSocket as over HTTP, as the caller of connection_init', async () => {
    const anonymous = client();
    const input = registration();
    const registered = await firstOutcome(anonymous, REGISTER, { input });
    expect(registered.kind).toBe('next');
    const { token, user } = registered.value.data.register;
    const me = await firstOutcome(client({ authorization: `Bearer ${token}` }), '{ me { id email } }');
    expect(me).toEqual({ kind: 'next', value: { data: { me: { id: user.id, email: input.email } } } });
    const taken = await firstOutcome(anonymous, REGISTER, { input });
    expect(taken.value.errors[0].extensions.code).toBe('EMAIL_TAKEN');
  });

  it('passes the caller of connection_init to the owning subgraph and to entity fetches', async () => {
    const authorization = `Bearer ${system.staffToken}`;
    const seen: string[] = [];
    const verify = auth.callerFromAuthorization;
    jest.spyOn(auth, 'callerFromAuthorization').mockImplementation((header, config) => {
      // The calling service, from the stack: each subgraph builds its context in its server.ts.
      if (header === authorization) seen.push(/(?:subgraphs[\\/](identity|patients)|(gateway))[\\/]src[\\/]/.exec(new Error().stack ?? '')?.slice(1).find(Boolean) ?? 'unknown');
      return verify(header, config);
    });
    const events = collect(client({ authorization }), 'subscription { patientCreated { id user { email } } }');
    await registerUntilDelivered(system, [events]);
    // The gateway verified it at connection_init, patients saw it on its WebSocket (connection_init), identity on
    // the entity fetch's header.
    expect(new Set(seen)).toEqual(new Set(['gateway', 'patients', 'identity']));
  });

  it('answers invalid operations with a graphql-ws error, and keeps the connection', async () => {
    const ws = client();
    const unknownField = await firstOutcome(ws, 'subscription { patientCreated { id nope } }');
    expect(unknownField.kind).toBe('error');
    expect(unknownField.value[0].message).toMatch(/Cannot query field "nope" on type "Patient"/);
    const syntax = await firstOutcome(ws, 'subscription { patientCreated { id ');
    expect(syntax.kind).toBe('error');
    const twoFields = await firstOutcome(ws, 'subscription { patientCreated { id } other: patientCreated { id } }');
    expect(twoFields.kind).toBe('error');
    const badVariable = await firstOutcome(ws, 'subscription ($x: Boolean!) { patientCreated { id @include(if: $x) } }', { x: 'yes' });
    expect(badVariable.kind).toBe('error');
    expect(badVariable.value[0].message).toMatch(/\$x/);
    const stillServing = await firstOutcome(ws, '{ __typename }');
    expect(stillServing).toEqual({ kind: 'next', value: { data: { __typename: 'Query' } } });
  });

  it('reports a subgraph error in the event it occurred in, and goes on', async () => {
    const events = collect(client(), 'subscription { patientCreated { id createdAt user { id } } }');
    await registerUntilDelivered(system, [events]);
    // A patient whose date the patients subgraph cannot serialize: its event carries the subgraph's error.
    const badId = randomUUID();
    const redis = redisClient();
    cleanups.push(() => redis.quit());
    await redis.publish(PATIENT_CREATED_CHANNEL, JSON.stringify({ id: badId, userId: randomUUID(), email: 'bad@example.org', firstName: 'Bad', lastName: 'Date', createdAt: 'not a date' }));
    const failed = await events.next((result) => result.errors !== undefined && JSON.stringify(result).includes('DateTime'));
    expect(failed.data).toBeNull();
    expect(failed.errors?.[0]).toMatchObject({ path: ['patientCreated', 'createdAt'], extensions: { serviceName: 'patients' } });
    // ...and the subscription goes on.
    await registerUntilDelivered(system, [events]);
    expect(events.error).toBeUndefined();
    expect(events.done).toBe(false);
  });

  it('shares one upstream subscription and one entity fetch per event between identical subscriptions, over one socket', async () => {
    const fetches = jest.spyOn(AuthForwardingDataSource.prototype, 'process');
    const ws = client();
    const first = collect(ws, PATIENT_CREATED);
    const second = collect(client(), PATIENT_CREATED);
    const other = collect(ws, 'subscription { patientCreated { id userId } }');
    await registerUntilDelivered(system, [first, second, other]);
    expect(subscriptionStats()).toMatchObject({ clientSockets: 2, clientSubscriptions: 3, upstreamSubscriptions: 2, upstreamSockets: 1 });

    fetches.mockClear();
    const { user } = await registerUntilDelivered(system, [first, second, other]);
    const entityFetches = fetches.mock.calls.filter(([options]) => JSON.stringify(options.request.variables).includes(user.userId));
    expect(entityFetches).toHaveLength(1);
  });

  it('ends the upstream subscription on complete and on disconnect; 1,000 cycles leave nothing behind', async () => {
    const redis = redisClient();
    cleanups.push(() => redis.quit());
    await nothingOpen();
    const subscribersBefore = await redisSubscribers(redis);

    // One cycle delivered end to end, so the patients subgraph's Redis listener is exercised too.
    const live = client();
    const events = collect(live, PATIENT_CREATED);
    await registerUntilDelivered(system, [events]);
    expect(await redisSubscribers(redis)).toBeGreaterThan(0);
    events.unsubscribe();
    await live.dispose();

    // Three staff members: each authorization gets its own upstream socket.
    const tokens = [system.staffToken, (await staffTokens(system.gatewayUrl)).staffToken, (await staffTokens(system.gatewayUrl)).staffToken];
    for (let cycle = 0; cycle < 1000; cycle += 1) {
      const ws = wsClient(system.gatewayUrl, { authorization: `Bearer ${tokens[cycle % 3]}` });
      const subscription = collect(ws, PATIENT_CREATED);
      await eventually(async () => (subscriptionStats().upstreamSubscriptions > 0 ? true : undefined), 5000, 'an upstream subscription');
      if (cycle % 2 === 0) subscription.unsubscribe(); // client `complete`
      await ws.dispose(); // disconnect
    }

    await nothingOpen();
    // Our patients subgraph's Redis listener is gone too (other suites may hold their own meanwhile).
    await eventually(async () => ((await redisSubscribers(redis)) <= subscribersBefore ? true : undefined), 15_000, 'Redis subscribers back to where they were');
  }, 120_000);

  it('closes a second connection_init with 4429 and a silent connection with 4408', async () => {
    const twice = await rawSocket(system.gatewayUrl);
    twice.socket.send(JSON.stringify({ type: 'connection_init' }));
    twice.socket.send(JSON.stringify({ type: 'connection_init' }));
    expect((await twice.closed).code).toBe(4429);

    const silent = await rawSocket(system.gatewayUrl.replace(/\/graphql$/, '/'));
    expect((await silent.closed).code).toBe(4408);
  });

  it('carries on through a restart of the patients subgraph without resubscribing', async () => {
    const events = collect(client(), PATIENT_CREATED);
    await registerUntilDelivered(system, [events]);
    await system.stopPatients();
    await system.startPatients();
    const { user, results } = await registerUntilDelivered(system, [events]);
    expect(results[0].data.patientCreated.user.email).toBe(user.email);
    expect(events.error).toBeUndefined();
    expect(events.done).toBe(false);
  });
});

describe('subscriptions through the gateway (postgres)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem('postgres', { SUBSCRIPTION_UPSTREAM_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('delivers patients, then ends with an error naming the subgraph when it stays down past the timeout', async () => {
    const ws = wsClient(system.gatewayUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const events = collect(ws, PATIENT_CREATED);
      const { user, results } = await registerUntilDelivered(system, [events]);
      expect(results[0].data.patientCreated.user.email).toBe(user.email);

      await system.stopPatients();
      const error = await eventually(async () => (events.error as any[] | undefined) ?? undefined, 15_000, 'the subscription to end');
      expect(error[0].message).toMatch(/patients subgraph could not be reached/);
      expect(error[0].extensions).toMatchObject({ serviceName: 'patients' });
      await eventually(async () => {
        const { clientSubscriptions, upstreamSubscriptions, upstreamSockets } = subscriptionStats();
        return clientSubscriptions + upstreamSubscriptions + upstreamSockets === 0 ? true : undefined;
      }, 15_000, 'no subscription left');
    } finally {
      await ws.dispose();
      await system.startPatients();
    }
  });
});
