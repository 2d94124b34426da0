import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { parseTraceparent } from './trace-context';
import type { Span, Tracer } from './tracer';

/** A request context that carries the request's span (set by {@link createTracingPlugin}). */
export interface TracedContext {
  /** The span of this GraphQL request: log its `traceId`, pass `traceparent()` to the next hop. */
  trace?: Span;
}

/**
 * A span per GraphQL request, child of the request's `traceparent` header when it has a valid one, else the
 * root of a new trace. It is put on the context as `trace` (unless the context brings one).
 */
export function createTracingPlugin(tracer: Tracer): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const context = contextValue as TracedContext;
      if (context.trace) return {};
      const span = tracer.startSpan('graphql', { parent: parseTraceparent(request.http?.headers.get('traceparent')), kind: 'server' });
      context.trace = span;
      return {
        async didResolveOperation({ operationName, operation }) {
          if (!operation) return;
          span.updateName(`${operation.operation} ${operationName ?? '(anonymous)'}`);
          span.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
        },
        async willSendResponse({ errors }) {
          span.end(errors?.[0]);
        },
      };
    },
  };
}
