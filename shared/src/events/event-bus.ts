/** An event ready to travel: its id, its type (which picks the stream and channel) and its serialized body. */
export interface OutgoingEvent {
  id: string;
  type: string;
  /** The contract's JSON body, serialized once: every redelivery carries the same bytes. */
  body: string;
}

/** The Redis name an event type travels on, stream and channel alike: `events:` + type + `event`, lower case. */
export function channelFor(eventType: string): string {
  return `events:${eventType.toLowerCase()}event`;
}

/** The dead-letter stream of a stream. */
export function deadLetterStreamOf(stream: string): string {
  return `${stream}:dlq`;
}

/** One entry of a durable stream, as a consumer's handler receives it. */
export interface StreamEntry {
  /** The stream's own id of the entry (e.g. `1764322200000-0`). */
  streamId: string;
  /** The event id written beside the body, when there was one. */
  eventId?: string;
  body: string;
  /** How many times the entry has been delivered, this delivery included. */
  deliveries: number;
}

/** Thrown by a handler for an event that can never succeed (bad JSON, missing fields, unknown version): dead-lettered at once. */
export class PoisonEventError extends Error {
  override name = 'PoisonEventError';
}

/** Thrown by a handler when a dependency is down (the database): retried until it is back, never dead-lettered. */
export class TransientEventError extends Error {
  override name = 'TransientEventError';
}

export interface ConsumeOptions {
  /** The stream, e.g. `events:userregisteredevent`. */
  stream: string;
  /** The consumer group: each entry is handled by one consumer of the group. */
  group: string;
  /** This process's consumer name; unique per process. */
  consumer: string;
  /**
   * Handles one entry. Resolving acknowledges it. Throwing {@link PoisonEventError} dead-letters it at once,
   * {@link TransientEventError} retries it until it succeeds, anything else retries it with backoff until
   * `maxDeliveries`, then dead-letters it.
   */
  handle: (entry: StreamEntry) => Promise<void>;
  /**
   * Optional fast path: handles every fresh entry of one read at once (one transaction for all, say).
   * Resolving acknowledges them all with one XACK. Throwing anything hands each entry to `handle`, one by
   * one, with the outcomes above; so it must be all or nothing, and may leave the work to `handle`.
   */
  handleBatch?: (entries: StreamEntry[]) => Promise<void>;
  /** Deliveries before a failing entry is dead-lettered. Default 5. */
  maxDeliveries?: number;
  /** How long an entry may stay pending with a consumer before another claims it (a crashed consumer). Default 30 000. */
  claimIdleMs?: number;
  /** First retry delay; doubles on each retry, with jitter, up to `maxRetryDelayMs`. Default 100. */
  retryBaseMs?: number;
  /** Cap of the retry delay. Default 5 000. */
  maxRetryDelayMs?: number;
  /** Entries read at a time. Default 50. */
  batchSize?: number;
  /** Told of each entry's outcome (for metrics). Its callbacks must not throw. */
  observer?: ConsumerObserver;
  /** The trace id an entry belongs to, for the consumer's own log lines (retries, dead letters). Must not throw. */
  traceIdOf?: (entry: StreamEntry) => string | undefined;
}

/** Callbacks for the outcomes of a consumer's entries. */
export interface ConsumerObserver {
  /** An entry was handled and acknowledged. */
  onConsumed?(entry: StreamEntry): void;
  /** An entry failed and will be tried again (a failing handler, or a dependency that is down). */
  onRetried?(entry: StreamEntry): void;
  /** An entry was moved to the dead-letter stream. */
  onDeadLettered?(entry: StreamEntry): void;
}

/** What an operator wants to know about a consumer group. */
export interface ConsumerStats {
  /** Entries in the stream the group has not been delivered yet. */
  lag: number;
  /** Entries delivered and not yet acknowledged. */
  pending: number;
  /** Entries in the dead-letter stream. */
  deadLetters: number;
}

export interface EventConsumer {
  /** Stops reading; an entry being handled finishes first. Unacknowledged entries stay pending for others. */
  stop(): Promise<void>;
  stats(): Promise<ConsumerStats>;
}

/**
 * The event bus, transport-free. Drivers (Redis today) implement it at the edge; services see only this.
 */
export interface EventBus {
  /**
   * Appends each event to its durable stream and announces it on the live channel of the same name, all as
   * one step. Resolves once the transport has taken them all; rejects otherwise, having taken none (the
   * caller keeps them and retries).
   */
  publish(events: OutgoingEvent[]): Promise<void>;
  /** Durable delivery (at least once): reads `stream` as one consumer of a group until stopped. */
  consume(options: ConsumeOptions): Promise<EventConsumer>;
  /**
   * Which run of the transport is up. It changes when the transport restarts, which may lose what it held
   * and not yet delivered: a publisher that keeps its events (an outbox) publishes those again.
   */
  instance?(): Promise<string>;
  /**
   * A time (ms since the epoch, the transport's clock) before which every event of `type` the transport took
   * has been acknowledged by every consumer group; null when no group reads it.
   */
  consumedBefore?(type: string): Promise<number | null>;
}
