import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayContext } from '../context';
import type { CallerFetch } from './subscription-hub';

/** The options of a fetch made for a client operation (as opposed to health checks and schema loading). */
type IncomingOperation = Extract<GraphQLDataSourceProcessOptions<GatewayContext>, { incomingRequestContext: unknown }>;

/** `GraphQLDataSourceRequestKind.INCOMING_OPERATION`, an enum @apollo/gateway does not export. */
const INCOMING_OPERATION = 'incoming operation' as IncomingOperation['kind'];

/** The gateway's data source of a subgraph at a URL: the same one its queries use. */
export type DataSourceFor = (serviceName: string, url: string) => GraphQLDataSource<GatewayContext>;

/**
 * Entity fetches for subscription events through the gateway's own data sources, so they send what queries
 * send: the caller's `Authorization` header (from `connection_init`) among it, and the event's `traceparent`.
 */
export function createSubgraphFetch(dataSourceFor: DataSourceFor): CallerFetch {
  return (prepared, authorization, traceparent) => {
    const context: GatewayContext = { authorization, ...(traceparent ? { traceparent } : {}) };
    // An event has no HTTP request of its own. Data sources read only `overallCachePolicy` (cache hints,
    // which do not apply to events) from the incoming request context; this one has none.
    const incomingRequestContext = { context, request: {} } as unknown as IncomingOperation['incomingRequestContext'];
    return async (serviceName, request) => {
      const url = prepared.snapshot.subgraphUrls.get(serviceName);
      if (url === undefined) throw new Error(`The supergraph names no URL for the ${serviceName} subgraph.`);
      const response = await dataSourceFor(serviceName, url).process({
        kind: INCOMING_OPERATION,
        request: { query: request.query, operationName: request.operationName, variables: request.variables },
        incomingRequestContext,
        context,
      });
      return { data: response.data, errors: response.errors };
    };
  };
}
