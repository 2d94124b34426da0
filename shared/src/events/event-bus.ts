/** An event as it travels: `type` picks its channel, the rest is the contract's body. */
export interface DomainEvent {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  data: unknown;
}

/** The Redis name an event type travels on: `events:` + the type + `event`, in lower case. */
export function channelFor(eventType: string): string {
  return `events:${eventType.toLowerCase()}event`;
}

/** Handles one raw event body; a rejection is logged by the bus and does not stop the subscription. */
export type EventHandler = (body: string) => Promise<void>;

export interface EventSubscription {
  /** Stops delivery to this handler. */
  close(): Promise<void>;
}

/**
 * The event bus, transport-free. Drivers (Redis today) implement it at the edge; services see only this.
 */
export interface EventBus {
  /** Publishes one event on its type's channel. Rejects when the transport did not take it. */
  publish(event: DomainEvent): Promise<void>;
  /** Delivers every body published on `channel` from now on; resolves once the transport confirmed. */
  subscribe(channel: string, onEvent: EventHandler): Promise<EventSubscription>;
}
