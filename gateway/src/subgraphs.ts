import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayContext } from './context';

/**
 * A subgraph fetcher that passes the caller's `Authorization` header on, so each subgraph sees the caller. The
 * gateway gives every one its pooled `fetcher` (./fetcher): Apollo's default costs far more CPU per fetch.
 */
export class AuthForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if ('authorization' in context && context.authorization) request.http?.headers.set('authorization', context.authorization);
    if ('ip' in context && context.ip) request.http?.headers.set('x-forwarded-for', context.ip);
    // The subgraph's work joins the client's trace (W3C Trace Context), as a child of the gateway's span; an
    // entity fetch for a subscription event joins the trace of the work behind the event.
    const traceparent = ('trace' in context && context.trace?.traceparent()) || ('traceparent' in context && context.traceparent);
    if (traceparent) request.http?.headers.set('traceparent', traceparent);
  }
}
