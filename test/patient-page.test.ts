/**
 * A page of patients counts the whole table only when `totalCount` is asked for: the count grows with the
 * table, the page does not.
 */
import { randomUUID } from 'node:crypto';
import { createUserRegisteredEvent } from '@phos/shared';
import type { Database } from '@phos/shared/database';
import { PatientService } from '../subgraphs/patients/src/patients/patient.service';
import { createDatabases, openPatientsDatabase } from './support/databases';
import type { TestDatabases } from './support/databases';

describe.each(['postgres', 'sqlite'] as const)('a page of patients on %s', (kind) => {
  let databases: TestDatabases;
  let orm: Database;
  let service: PatientService;
  /** Every statement the service sends from now on. */
  let statements: string[];

  beforeAll(async () => {
    databases = await createDatabases(kind);
    orm = await openPatientsDatabase(kind, databases);
    service = new PatientService(orm);
    const events = [1, 2, 3].map((n) =>
      createUserRegisteredEvent({ userId: randomUUID(), email: `page-${n}@example.org`, role: 'Patient', firstName: 'Page', lastName: `P${n}`, registeredAt: new Date().toISOString() }),
    );
    expect(await service.createFromEvents(events)).toHaveLength(3);
  });

  afterAll(async () => {
    await orm?.close(true);
    await databases?.drop();
  });

  beforeEach(() => {
    statements = [];
    const connection = orm.em.getConnection();
    const execute = connection.execute.bind(connection);
    jest.spyOn(connection, 'execute').mockImplementation((query, ...rest) => {
      statements.push(typeof query === 'string' ? query : String(query));
      return execute(query, ...rest);
    });
  });

  afterEach(() => jest.restoreAllMocks());

  const counts = () => statements.filter((sql) => /count\(/i.test(sql));

  it('reads the page without counting the table', async () => {
    const page = await service.page(2);
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(statements).toHaveLength(1);
    expect(counts()).toEqual([]);
  });

  it('counts once, when asked, however often it is asked', async () => {
    const page = await service.page(2);
    expect(await Promise.all([page.count(), page.count()])).toEqual([3, 3]);
    expect(await page.count()).toBe(3);
    expect(counts()).toHaveLength(1);
  });

  it('answers a count for an empty page too', async () => {
    const page = await service.page(0);
    expect(page.edges).toEqual([]);
    expect(statements).toEqual([]);
    expect(await page.count()).toBe(3);
  });
});
