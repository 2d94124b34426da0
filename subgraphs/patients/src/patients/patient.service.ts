import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { FilterQuery } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { badUserInput } from '@phos/shared';
import type { UserRegisteredEvent } from '@phos/shared';
import type { Database } from '@phos/shared/database';
import { decodeCursor, encodeCursor } from './cursor';
import { Patient } from './patient.entity';

export const MAX_PAGE_SIZE = 100;

export interface PatientPage {
  edges: { cursor: string; node: Patient }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/** Patient records: created from events, read by id, by user and page by page. */
export class PatientService {
  constructor(private readonly orm: Database) {}

  /**
   * Creates the patient of a registered user, once: for a user who already has one (a redelivered or
   * repeated event), returns the existing record with `created: false`.
   */
  async createFromEvent(event: UserRegisteredEvent): Promise<{ patient: Patient; created: boolean }> {
    const em = this.orm.em.fork();
    const existing = await em.findOne(Patient, { userId: event.data.userId });
    if (existing) return { patient: existing, created: false };
    const patient = em.create(Patient, {
      id: randomUUID(),
      userId: event.data.userId,
      email: event.data.email,
      firstName: event.data.firstName,
      lastName: event.data.lastName,
      createdAt: new Date(),
    });
    try {
      await em.persistAndFlush(patient);
      return { patient, created: true };
    } catch (error) {
      // The same event handled at the same moment elsewhere: the unique user id kept it to one record.
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      const winner = await this.orm.em.fork().findOneOrFail(Patient, { userId: event.data.userId });
      return { patient: winner, created: false };
    }
  }

  findById(id: string): Promise<Patient | null> {
    return this.orm.em.fork().findOne(Patient, { id });
  }

  async findByIds(ids: string[]): Promise<Map<string, Patient>> {
    const patients = await this.orm.em.fork().find(Patient, { id: { $in: ids } });
    return new Map(patients.map((patient) => [patient.id, patient]));
  }

  async findByUserIds(userIds: string[]): Promise<Map<string, Patient>> {
    const patients = await this.orm.em.fork().find(Patient, { userId: { $in: userIds } });
    return new Map(patients.map((patient) => [patient.userId, patient]));
  }

  /** Newest first, `first` records after the cursor `after`. */
  async page(first: number, after?: string | null): Promise<PatientPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) throw badUserInput('first', `first must be 0 to ${MAX_PAGE_SIZE}.`);
    const em = this.orm.em.fork();
    let where: FilterQuery<Patient> = {};
    if (after) {
      const cursor = decodeCursor(after);
      where = { $or: [{ createdAt: { $lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { $lt: cursor.id } }] };
    }
    const [rows, totalCount] = await Promise.all([
      first === 0 ? Promise.resolve([]) : em.find(Patient, where, { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: first + 1 }),
      em.fork().count(Patient),
    ]);
    const nodes = rows.slice(0, first);
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node), node }));
    return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
  }
}
