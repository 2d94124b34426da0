import { EntitySchema } from '@mikro-orm/core';

/**
 * Who watched a live feed of patient records (`patientCreated`), from when until when: every patient created
 * in between reached them. One entry per subscription, not per delivery. `endedAt` stays null when the
 * service stopped without seeing the subscription end (a crash): the feed may have run until then.
 */
export class WatchEntry {
  id!: string;
  actorId!: string;
  actorRole!: string;
  /** The subscription field, e.g. `patientCreated`. */
  field!: string;
  startedAt!: Date;
  endedAt!: Date | null;
}

export const WatchEntrySchema = new EntitySchema<WatchEntry>({
  class: WatchEntry,
  tableName: 'watch_log',
  indexes: [{ name: 'watch_log_started_at_index', properties: ['startedAt'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    actorId: { type: 'uuid' },
    actorRole: { type: 'string', length: 16 },
    field: { type: 'string', length: 64 },
    startedAt: { type: 'datetime' },
    endedAt: { type: 'datetime', nullable: true },
  },
});
