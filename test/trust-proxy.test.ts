/**
 * Whose address a rate limit counts: the gateway believes `X-Forwarded-For` only from the proxies TRUST_PROXY
 * names (loopback by default), over HTTP and over WebSockets alike. The suite's requests come from loopback,
 * so they play the trusted proxy; a peer the gateway does not trust is checked on the address logic itself.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ConfigError, proxyTrust } from '@phos/shared';
import { ownRedis } from './support/processes';
import type { OwnRedis } from './support/processes';
import { testConfig, startSystem } from './support/system';
import type { TestSystem } from './support/system';

const LOGIN = 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';
const someone = () => ({ email: `nobody-${randomBytes(6).toString('hex')}@example.org`, password: 'wrong password' });

describe('the client address behind proxies', () => {
  let system: TestSystem;
  // A Redis of the suite's own: its counters start empty, whatever other suites did from loopback this minute.
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await ownRedis();
    system = await startSystem('sqlite', { REDIS_URL: redis.url, RATE_LIMIT_LOGIN_PER_IP: '3', RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000' });
  });
  afterAll(async () => {
    await system?.stop();
    await redis?.remove();
  });

  const overHttp = async (forwardedFor: string) => {
    const res = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor }, body: JSON.stringify({ query: LOGIN, variables: someone() }) });
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    return body.errors?.[0]?.extensions?.code;
  };

  /** One `login` over a graphql-ws connection whose upgrade request carries `X-Forwarded-For`. */
  const overWebSocket = async (forwardedFor: string) => {
    const client = createClient({
      url: system.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers: { 'x-forwarded-for': forwardedFor } });
        }
      },
      retryAttempts: 0,
    });
    try {
      const result = await new Promise<{ errors?: readonly { extensions?: { code?: unknown } }[] }>((resolve, reject) => {
        client.subscribe({ query: LOGIN, variables: someone() }, { next: resolve, error: reject, complete: () => undefined });
      });
      return result.errors?.[0]?.extensions?.code;
    } finally {
      await client.dispose();
    }
  };

  test('counts each address a trusted proxy forwards for, over HTTP and over WebSockets', async () => {
    const tag = randomBytes(2).readUInt16BE();
    for (const send of [overHttp, overWebSocket]) {
      const a = `10.${send === overHttp ? 11 : 12}.${tag >> 8}.${tag & 255}`;
      const b = `10.${send === overHttp ? 13 : 14}.${tag >> 8}.${tag & 255}`;
      const answers = [await send(a), await send(a), await send(a), await send(a), await send(b)];
      // The fourth from one address is refused; another address behind the same proxy is not.
      expect({ send: send.name, answers }).toEqual({ send: send.name, answers: ['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED', 'INVALID_CREDENTIALS'] });
    }
  });
});

describe('TRUST_PROXY', () => {
  const request = (peer: string, forwardedFor: string) => ({ socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

  test('by default believes only a proxy on loopback: a client on a private network cannot pick its address', () => {
    const trust = proxyTrust(testConfig({ TRUST_PROXY: '' }).gateway.trustProxy);
    expect(trust.addressOf(request('127.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
    expect(trust.addressOf(request('fd00::2', '203.0.113.7'))).toBe('fd00::2');
    expect(trust.addressOf(request('10.0.0.5', '203.0.113.7'))).toBe('10.0.0.5');
  });

  test('believes the proxies it names, and refuses a setting that does not parse', () => {
    const trust = proxyTrust(testConfig({ TRUST_PROXY: '10.0.0.0/8, loopback' }).gateway.trustProxy);
    expect(trust.addressOf(request('10.0.0.5', '203.0.113.7'))).toBe('203.0.113.7');
    expect(trust.addressOf(request('192.0.2.9', '203.0.113.7'))).toBe('192.0.2.9');
    expect(() => testConfig({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(ConfigError);
  });
});
