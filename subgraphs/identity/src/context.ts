import type { Caller, Span } from '@phos/shared';
import type { User } from './users/user.entity';

/** Per-request context of the identity subgraph. */
export interface Context {
  /** The verified caller, or null when anonymous or when the token was not valid. */
  caller: Caller | null;
  /** Why the token sent was refused, when one was sent and refused. */
  tokenError?: string;
  /** The client's address (from the gateway's X-Forwarded-For), for rate limits. */
  ip: string;
  /** The request's span (the tracing plugin sets it): its traceparent travels in the event's metadata. */
  trace?: Span;
  /** The request's batch loader of users, created on first use. */
  loadUser?: (id: string) => Promise<User | undefined>;
}
