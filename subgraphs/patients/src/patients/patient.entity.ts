import { EntitySchema } from '@mikro-orm/core';

/** The patient record of a user who registered with the PATIENT role: at most one per user. */
export class Patient {
  id!: string;
  userId!: string;
  email!: string;
  firstName!: string;
  lastName!: string;
  createdAt!: Date;
}

export const PatientSchema = new EntitySchema<Patient>({
  class: Patient,
  tableName: 'patients',
  indexes: [{ name: 'patients_created_at_id_index', properties: ['createdAt', 'id'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'uuid', unique: 'patients_user_id_unique' },
    email: { type: 'string', length: 254 },
    firstName: { type: 'string', length: 100 },
    lastName: { type: 'string', length: 100 },
    createdAt: { type: 'datetime' },
  },
});
