import { EntitySchema } from '@mikro-orm/core';

/** An event whose effect is committed: recorded in the same transaction as the effect, so a redelivery does nothing. */
export class ProcessedEvent {
  id!: string;
  processedAt!: Date;
}

export const ProcessedEventSchema = new EntitySchema<ProcessedEvent>({
  class: ProcessedEvent,
  tableName: 'processed_events',
  properties: {
    id: { type: 'string', length: 64, primary: true },
    processedAt: { type: 'datetime' },
  },
});
