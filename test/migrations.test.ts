/**
 * Migrations at start-up: replicas that start together on one fresh PostgreSQL database take turns, and a
 * restart applies nothing twice; an upgrade keeps what the rows meant.
 */
import { openDatabase } from '@phos/shared/database';
import { createLogger } from '@phos/shared';
import { Migration20261128000000CreatePatients } from '../subgraphs/patients/src/migrations/Migration20261128000000CreatePatients';
import { PatientSchema } from '../subgraphs/patients/src/patients/patient.entity';
import { createDatabases, queryPostgres } from './support/databases';
import { randomUUID } from 'node:crypto';
import { IDENTITY_MIGRATIONS } from '../subgraphs/identity/src/migrations';
import { OutboxEvent, OutboxEventSchema } from '../subgraphs/identity/src/outbox/outbox-event.entity';
import { UserSchema } from '../subgraphs/identity/src/users/user.entity';

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

describe.each(['postgres', 'sqlite'] as const)('identity on %s', (kind) => {
  it('upgrades an outbox with published rows without publishing them again', async () => {
    const databases = await createDatabases(kind);
    const open = (migrations: typeof IDENTITY_MIGRATIONS) =>
      openDatabase({
        database: kind === 'postgres' ? { kind, url: databases.identity } : { kind, path: databases.identity },
        entities: [UserSchema, OutboxEventSchema],
        migrations,
        envName: 'IDENTITY_DATABASE_URL',
        logger: createLogger('test', 'silent'),
      });
    try {
      // Before the upgrade: one row published, one not. (Plain SQL: the entity already has the new columns.)
      const before = await open(IDENTITY_MIGRATIONS.slice(0, 2));
      const row = (id: string, publishedAt: Date | null) => ({ id, type: 'UserRegistered', body: '{}', created_at: new Date(), published_at: publishedAt });
      await before.em.getConnection().execute(before.em.getKnex()('outbox').insert([row(randomUUID(), new Date()), row(randomUUID(), null)]));
      await before.close();
      const after = await open(IDENTITY_MIGRATIONS);
      try {
        const rows = await after.em.fork().find(OutboxEvent, {}, { orderBy: { publishedAt: 'asc' } });
        // The published row counts as consumed (the watch leaves it alone); the other waits for the relay.
        expect(rows.map((r) => ({ published: Boolean(r.publishedAt), consumed: Boolean(r.consumedAt), to: r.publishedTo }))).toEqual(
          expect.arrayContaining([
            { published: true, consumed: true, to: null },
            { published: false, consumed: false, to: null },
          ]),
        );
        expect(rows).toHaveLength(2);
      } finally {
        await after.close();
      }
    } finally {
      await databases.drop();
    }
  });
});
