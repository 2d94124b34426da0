import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayContext } from '../context';
import { AuthForwardingDataSource } from '../subgraphs';
import { createSubgraphFetch } from './subgraph-fetch';
import type { PreparedOperation } from './supergraph-snapshot';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const prepared = { snapshot: { subgraphUrls: new Map([['identity', 'http://identity.test/graphql']]) } } as unknown as PreparedOperation;

/** The headers the gateway's data source would send for a fetch made with this context. */
function headersFor(context: GatewayContext): Headers {
  const headers = new Headers();
  new AuthForwardingDataSource({ url: 'http://identity.test/graphql' }).willSendRequest({
    request: { http: { headers, method: 'POST', url: 'http://identity.test/graphql' } },
    context,
  } as unknown as GraphQLDataSourceProcessOptions<GatewayContext>);
  return headers;
}

it("sends an event's entity fetches with the caller's authorization and the event's traceparent", async () => {
  const contexts: GatewayContext[] = [];
  const dataSource = { process: async (options: { context: GatewayContext }) => (contexts.push(options.context), { data: { _entities: [] } }) };
  const fetch = createSubgraphFetch(() => dataSource as unknown as GraphQLDataSource<GatewayContext>)(prepared, 'Bearer t', TRACEPARENT);
  await fetch('identity', { query: '{ _entities { __typename } }', operationName: undefined, variables: {} });
  expect(contexts).toEqual([{ authorization: 'Bearer t', traceparent: TRACEPARENT }]);
  const headers = headersFor(contexts[0]!);
  expect(headers.get('authorization')).toBe('Bearer t');
  expect(headers.get('traceparent')).toBe(TRACEPARENT);
});

it('sends no traceparent for an event that carries none', async () => {
  const contexts: GatewayContext[] = [];
  const dataSource = { process: async (options: { context: GatewayContext }) => (contexts.push(options.context), { data: {} }) };
  await createSubgraphFetch(() => dataSource as unknown as GraphQLDataSource<GatewayContext>)(prepared, undefined)('identity', { query: '{ a }', operationName: undefined, variables: {} });
  expect(headersFor(contexts[0]!).get('traceparent')).toBeNull();
});
