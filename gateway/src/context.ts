import type { Span } from '@phos/shared';

/** Per-request context of the gateway: what it forwards to the subgraphs. */
export interface GatewayContext {
  /** The client's `Authorization` header, passed on unchanged to every subgraph fetch. */
  authorization?: string;
  /** The client's address, passed on as X-Forwarded-For (identity's rate limits count by it). */
  ip?: string;
  /** The request's span (the tracing plugin sets it): subgraph fetches carry its `traceparent`. */
  trace?: Span;
  /** A `traceparent` to send as it is, when there is no span: a subscription event's, for its entity fetches. */
  traceparent?: string;
}
