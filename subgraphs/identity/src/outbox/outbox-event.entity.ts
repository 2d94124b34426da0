import { EntitySchema } from '@mikro-orm/core';

/**
 * An event stored in the same transaction as the change it reports; the relay publishes it and then sets
 * `publishedAt` and `publishedTo`, and later `consumedAt`, once every consumer group has it. Rows are kept,
 * so an operator can replay them.
 */
export class OutboxEvent {
  /** The event id, minted once. */
  id!: string;
  type!: string;
  /** The serialized body, published as it is on every attempt. */
  body!: string;
  createdAt!: Date;
  publishedAt?: Date | null;
  /** The run of the transport it was published to (Redis's `run_id`), when known. */
  publishedTo?: string | null;
  /** When the relay saw every consumer group acknowledge it; until then, a transport restart publishes it again. */
  consumedAt?: Date | null;
}

export const OutboxEventSchema = new EntitySchema<OutboxEvent>({
  class: OutboxEvent,
  tableName: 'outbox',
  indexes: [{ name: 'outbox_published_at_created_at_index', properties: ['publishedAt', 'createdAt'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    type: { type: 'string', length: 64 },
    body: { type: 'text' },
    createdAt: { type: 'datetime' },
    publishedAt: { type: 'datetime', nullable: true },
    publishedTo: { type: 'string', length: 64, nullable: true },
    consumedAt: { type: 'datetime', nullable: true },
  },
});
