import { EntitySchema } from '@mikro-orm/core';

/**
 * An event stored in the same transaction as the change it reports; the relay publishes it and then sets
 * `publishedAt`. Published rows are kept, so an operator can replay them.
 */
export class OutboxEvent {
  /** The event id, minted once. */
  id!: string;
  type!: string;
  /** The serialized body, published as it is on every attempt. */
  body!: string;
  createdAt!: Date;
  publishedAt?: Date | null;
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
  },
});
