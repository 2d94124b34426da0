/**
 * Metrics and traces: every service serves Prometheus metrics at /metrics (requests, errors, events,
 * WebSockets, subscriptions), and one registration can be followed through every service's log lines by the
 * trace id of the `traceparent` it was sent with.
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { USER_REGISTERED_CHANNEL, createLogger, createUserRegisteredEvent } from '@phos/shared';
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { PATIENT_CREATED_CHANNEL, eventually, redisClient, waitForSubscribers } from './support/redis';
import { startSystem } from './support/system';
import type { TestSystem } from './support/system';

type LogLine = Record<string, unknown> & { service: string; msg: string; traceId?: string };

/** One sample of a metric in Prometheus text: the value of the first line naming `name` with every label of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) return Number(match[3]);
  }
  return undefined;
}

const metricsOf = async (graphqlUrl: string) => {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};

describe('metrics and traces', () => {
  let system: TestSystem;
  let redis: Redis;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    system = await startSystem('sqlite', {}, {
      // Every service logs into `lines`, at info, so the test can follow a trace through them.
      logger: (name) => createLogger(name, 'info', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }),
    });
    redis = redisClient();
  });
  afterAll(async () => {
    await system?.stop();
    await redis?.quit();
  });

  test('every service serves /metrics with request durations and errors by operation and code', async () => {
    const ok = await gql(system.gatewayUrl, REGISTER, { input: registration() });
    expect(ok.errors).toBeUndefined();
    const taken = await gql(system.gatewayUrl, REGISTER, { input: { ...registration(), email: ok.data.register.user.email } });
    expect(taken.errors?.[0].extensions?.code).toBe('EMAIL_TAKEN');
    await gql(system.gatewayUrl, 'query Broken { nope }');

    const gateway = await metricsOf(system.gatewayUrl);
    expect(sample(gateway, 'phos_graphql_request_duration_seconds_count', { service: 'gateway', operation: 'Register', type: 'mutation' })).toBeGreaterThanOrEqual(2);
    expect(sample(gateway, 'phos_graphql_errors_total', { operation: 'Register', code: 'EMAIL_TAKEN' })).toBeGreaterThanOrEqual(1);
    expect(sample(gateway, 'phos_graphql_errors_total', { operation: '(invalid)', code: 'GRAPHQL_VALIDATION_FAILED' })).toBeGreaterThanOrEqual(1);
    // Process metrics come along, once per process.
    expect(gateway).toContain('phos_process_resident_memory_bytes');

    const identity = await metricsOf(system.identityUrl);
    expect(sample(identity, 'phos_graphql_request_duration_seconds_count', { service: 'identity', operation: 'Register__identity__0' })).toBeGreaterThanOrEqual(2);
    expect(sample(identity, 'phos_graphql_errors_total', { service: 'identity', code: 'EMAIL_TAKEN' })).toBeGreaterThanOrEqual(1);
    const patients = await metricsOf(system.patientsUrl);
    expect(patients).toContain('phos_graphql_request_duration_seconds');
  });

  test('/metrics answers a scraper on loopback, not a request that came through a proxy', async () => {
    const url = system.gatewayUrl.replace(/\/graphql$/, '/metrics');
    expect((await fetch(url)).status).toBe(200);
    const proxied = await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(proxied.status).toBe(403);
    expect(await proxied.text()).not.toMatch(/phos_/);
  });

  test('events published and consumed, lag, backlog, WebSockets and subscriptions are counted', async () => {
    const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const sub = collect(client, 'subscription { patientCreated { id email } }');
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
      const publishedBefore = sample(await metricsOf(system.identityUrl), 'phos_events_published_total', { type: 'UserRegistered' }) ?? 0;
      const input = registration();
      expect((await gql(system.gatewayUrl, REGISTER, { input })).errors).toBeUndefined();
      await sub.next((result) => result.data?.patientCreated.email === input.email);

      // Counted once identity has marked the event published, which empties its backlog.
      const identity = await eventually(async () => {
        const text = await metricsOf(system.identityUrl);
        const counted = (sample(text, 'phos_events_published_total', { type: 'UserRegistered' }) ?? 0) > publishedBefore;
        return counted && sample(text, 'phos_outbox_backlog') === 0 ? text : undefined;
      }, 10_000, 'the event counted as published and the backlog empty');
      expect(sample(identity, 'phos_outbox_unconsumed')).toEqual(expect.any(Number));

      const patients = await metricsOf(system.patientsUrl);
      expect(sample(patients, 'phos_events_consumed_total', { stream: 'events:userregisteredevent', group: 'patients' })).toBeGreaterThanOrEqual(1);
      expect(sample(patients, 'phos_events_consumer_lag')).toEqual(expect.any(Number));
      expect(sample(patients, 'phos_events_consumer_pending')).toEqual(expect.any(Number));
      expect(sample(patients, 'phos_events_dead_letters')).toEqual(expect.any(Number));
      expect(sample(patients, 'phos_websocket_connections')).toBeGreaterThanOrEqual(1);

      const gateway = await metricsOf(system.gatewayUrl);
      expect(sample(gateway, 'phos_websocket_connections')).toBeGreaterThanOrEqual(1);
      expect(sample(gateway, 'phos_subscriptions_active', { side: 'downstream' })).toBeGreaterThanOrEqual(1);
      expect(sample(gateway, 'phos_subscriptions_active', { side: 'upstream' })).toBeGreaterThanOrEqual(1);
      expect(sample(gateway, 'phos_upstream_websockets')).toBeGreaterThanOrEqual(1);
    } finally {
      await client.dispose();
    }
  });

  test('one registration is followed through every service by the trace id of its traceparent', async () => {
    const client = wsClient(system.gatewayUrl, { authorization: `Bearer ${system.staffToken}` });
    try {
      const sub = collect(client, 'subscription Watch { patientCreated { id email user { id } } }');
      await waitForSubscribers(redis, PATIENT_CREATED_CHANNEL);
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const input = registration();
      const res = await fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ query: REGISTER, variables: { input } }),
      });
      const body = (await res.json()) as { data: { register: { user: { id: string } } } };
      const userId = body.data.register.user.id;
      const event = await sub.next((result) => result.data?.patientCreated.email === input.email);
      expect(event.data?.patientCreated.user.id).toBe(userId);

      const find = (service: string, msg: RegExp) => lines.find((line) => line.service === service && msg.test(line.msg) && (line.userId === userId || line.traceId === traceId));
      const expected: [string, RegExp][] = [
        ['identity', /^User registered$/],
        ['identity', /^Published UserRegistered event/],
        ['patients', /^Successfully created patient record/],
        ['patients', /^Announced the new patient/],
        ['gateway', /^Delivered a subscription event$/],
      ];
      const found = await eventually(async () => {
        const all = expected.map(([service, msg]) => find(service, msg));
        return all.every(Boolean) ? (all as LogLine[]) : undefined;
      }, 10_000, 'the log lines of the registration');
      for (const line of found) expect({ service: line.service, msg: line.msg, traceId: line.traceId }).toEqual({ service: line.service, msg: line.msg, traceId });
    } finally {
      await client.dispose();
    }
  });

  test("the consumer's dead-letter line carries the trace id of the event's traceparent", async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const event = createUserRegisteredEvent({
      userId: randomUUID(),
      email: `trace-${randomUUID()}@example.org`,
      role: 'Patient',
      firstName: 'Trace',
      lastName: 'Test',
      registeredAt: new Date().toISOString(),
      metadata: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    // A version no reader knows: dead-lettered at once.
    await redis.xadd(USER_REGISTERED_CHANNEL, '*', 'id', event.id, 'body', JSON.stringify({ ...event, version: 99 }));
    const line = await eventually(async () => lines.find((l) => l.service === 'patients' && l.msg === 'Moved an event to the dead-letter stream' && l.eventId === event.id), 10_000, 'the dead-letter line');
    expect(line.traceId).toBe(traceId);
  });

  test('a request without a valid traceparent starts a trace of its own', async () => {
    const input = registration();
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
      body: JSON.stringify({ query: REGISTER, variables: { input } }),
    });
    const userId = ((await res.json()) as { data: { register: { user: { id: string } } } }).data.register.user.id;
    const line = await eventually(async () => lines.find((l) => l.service === 'identity' && l.msg === 'User registered' && l.userId === userId), 5000, 'the registration line');
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(line.traceId).not.toBe('0'.repeat(32));
  });
});
