import type { DatabaseConfig, Logger } from '@phos/shared';
import { openDatabase } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { PATIENTS_MIGRATIONS } from './migrations';
import { AuditEntrySchema } from './patients/audit-entry.entity';
import { PatientSchema } from './patients/patient.entity';
import { ProcessedEventSchema } from './patients/processed-event.entity';
import { WatchEntrySchema } from './patients/watch-entry.entity';

/** The patients database, its pending migrations applied. */
export function openPatientsDatabase(database: DatabaseConfig, logger: Logger): Promise<Database> {
  return openDatabase({
    database,
    entities: [PatientSchema, ProcessedEventSchema, AuditEntrySchema, WatchEntrySchema],
    migrations: PATIENTS_MIGRATIONS,
    envName: 'PATIENTS_DATABASE_URL',
    logger,
  });
}
