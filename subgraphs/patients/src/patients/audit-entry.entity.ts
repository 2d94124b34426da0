import { EntitySchema } from '@mikro-orm/core';

/** Who read or created which patient record, and when. Written for every read and every creation. */
export class AuditEntry {
  id!: string;
  /** The user who acted; null when the system acted (a creation from an event). */
  actorId!: string | null;
  actorRole!: string;
  action!: 'read' | 'create';
  patientId!: string;
  /** The event that caused a creation. */
  eventId!: string | null;
  at!: Date;
}

export const AuditEntrySchema = new EntitySchema<AuditEntry>({
  class: AuditEntry,
  tableName: 'audit_log',
  indexes: [{ name: 'audit_log_patient_id_at_index', properties: ['patientId', 'at'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    actorId: { type: 'uuid', nullable: true },
    actorRole: { type: 'string', length: 16 },
    action: { type: 'string', length: 16 },
    patientId: { type: 'uuid' },
    eventId: { type: 'string', length: 64, nullable: true },
    at: { type: 'datetime' },
  },
});
