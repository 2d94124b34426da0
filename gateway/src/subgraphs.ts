import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayContext } from './context';

/** A subgraph fetcher that passes the caller's `Authorization` header on, so each subgraph sees the caller. */
export class AuthForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if ('authorization' in context && context.authorization) request.http?.headers.set('authorization', context.authorization);
    if ('ip' in context && context.ip) request.http?.headers.set('x-forwarded-for', context.ip);
  }
}
