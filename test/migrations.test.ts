/**
 * Migrations at start-up: replicas that start together on one fresh PostgreSQL database take turns, and a
 * restart applies nothing twice.
 */
import { openDatabase } from '@phos/shared/database';
import { createLogger } from '@phos/shared';
import { Migration20261128000000CreatePatients } from '../subgraphs/patients/src/migrations/Migration20261128000000CreatePatients';
import { PatientSchema } from '../subgraphs/patients/src/patients/patient.entity';
import { createDatabases, queryPostgres } from './support/databases';

it('lets four replicas start together on a fresh database', async () => {
  const databases = await createDatabases('postgres');
  const open = () =>
    openDatabase({
      database: { kind: 'postgres', url: databases.patients },
      entities: [PatientSchema],
      migrations: [Migration20261128000000CreatePatients],
      envName: 'PATIENTS_DATABASE_URL',
      logger: createLogger('test', 'silent'),
    });
  try {
    const opened = await Promise.allSettled([open(), open(), open(), open()]);
    for (const result of opened) if (result.status === 'fulfilled') await result.value.close();
    expect(opened.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
    const applied = await queryPostgres(databases.patients, 'select name from mikro_orm_migrations');
    expect(applied).toHaveLength(1);
  } finally {
    await databases.drop();
  }
});
