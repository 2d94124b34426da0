/**
 * The GraphQL-over-HTTP specification, checked by a third party: graphql-http's own audit of a server, run
 * against the gateway and both subgraphs; then the status codes of documents that cannot run, which depend on
 * the media type the client accepts.
 */
import { auditServer } from 'graphql-http';
import { startSystem } from './support/system';
import type { TestSystem } from './support/system';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem('sqlite');
});
afterAll(async () => {
  await system?.stop();
});

const endpoints: [string, () => string][] = [
  ['the gateway', () => system.gatewayUrl],
  ['identity', () => system.identityUrl],
  ['patients', () => system.patientsUrl],
];

/**
 * What the audit may note and we refuse on purpose: GET requests that a browser could send cross-site without
 * a preflight (no `Content-Type: application/json`, no `Apollo-Require-Preflight`) are CSRF prevention's to
 * refuse, with HTTP 400.
 */
const CSRF_NOTICES = ['5A70', '6A70', 'D6D5'];

describe.each(endpoints)('%s', (_name, url) => {
  it("passes graphql-http's audit with no error and no warning", async () => {
    const results = await auditServer({ url: url() });
    expect(results.length).toBeGreaterThan(50);
    const failed = results.filter((result) => result.status === 'error' || result.status === 'warn').map(({ id, name, status }) => `${status} ${id}: ${name}`);
    expect(failed).toEqual([]);
    const notices = results.filter((result) => result.status === 'notice').map((result) => result.id);
    expect(notices.sort()).toEqual(CSRF_NOTICES);
  });

  const JSON_ONLY = 'application/json';
  const GRAPHQL_RESPONSE = 'application/graphql-response+json';
  // What Apollo Client and graphql-http's client send: the new media type first.
  const BOTH = 'application/graphql-response+json, application/json;q=0.9';
  it.each([
    ['does not parse', { query: '{ me { id ' }, 'GRAPHQL_PARSE_FAILED'],
    ['does not validate', { query: '{ me { password } }' }, 'GRAPHQL_VALIDATION_FAILED'],
    ['has variables of the wrong type', { query: 'query ($show: Boolean!) { __typename @include(if: $show) }', variables: { show: 'yes' } }, 'BAD_USER_INPUT'],
    ['names an operation it does not hold', { query: 'query A { __typename }', operationName: 'B' }, 'OPERATION_RESOLUTION_FAILURE'],
    ['holds two operations and names neither', { query: 'query A { __typename } query B { __typename }' }, 'OPERATION_RESOLUTION_FAILURE'],
  ])('answers a document that %s with 200 for application/json and 400 for application/graphql-response+json', async (_what, body, code) => {
    for (const [accept, status, type] of [
      [JSON_ONLY, 200, JSON_ONLY],
      [undefined, 200, JSON_ONLY],
      [GRAPHQL_RESPONSE, 400, GRAPHQL_RESPONSE],
      [BOTH, 400, GRAPHQL_RESPONSE],
    ] as const) {
      const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) }, body: JSON.stringify(body) });
      const result = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
      expect({ accept, status: res.status, type: res.headers.get('content-type')?.split(';')[0], codes: result.errors?.map((error) => error.extensions?.code), data: 'data' in result }).toEqual({
        accept,
        status,
        type,
        codes: [code],
        data: false,
      });
    }
  });

  it('still answers 400 to a request that is not a GraphQL request, whatever the client accepts', async () => {
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ variables: {} }) });
    expect(res.status).toBe(400);
    const result = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
  });
});
