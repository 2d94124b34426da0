import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { FilterQuery } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { badUserInput, isUuid } from '@phos/shared';
import type { Caller, UserRegisteredEvent } from '@phos/shared';
import { pingDatabase } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { decodeCursor, encodeCursor } from './cursor';
import { Patient } from './patient.entity';
import { ProcessedEvent } from './processed-event.entity';
import { AuditEntry } from './audit-entry.entity';

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
   * Applies a UserRegistered event once: records the event id and creates the user's patient in one
   * transaction. A redelivered event (its id recorded) or a user who already has a patient creates nothing.
   */
  async createFromEvent(event: UserRegisteredEvent): Promise<Patient | null> {
    try {
      return (await this.createFromEvents([event]))[0]?.patient ?? null;
    } catch (error) {
      // The same event, or another for the same user, committed at the same moment elsewhere.
      if (error instanceof UniqueConstraintViolationException) return null;
      throw error;
    }
  }

  /**
   * Applies a batch of UserRegistered events in one transaction, with a few statements whatever its size:
   * events already recorded, and users who already have a patient, create nothing. Returns the patients
   * created, each with its event. Throws UniqueConstraintViolationException when another replica committed
   * one of them meanwhile (nothing is written then; apply the events one by one).
   */
  async createFromEvents(events: UserRegisteredEvent[]): Promise<{ event: UserRegisteredEvent; patient: Patient }[]> {
    if (events.length === 0) return [];
    return this.orm.em.fork().transactional(async (em) => {
      const recorded = await em.find(ProcessedEvent, { id: { $in: events.map((event) => event.id) } }, { fields: ['id'] });
      const seen = new Set(recorded.map((event) => event.id));
      const fresh = events.filter((event) => !seen.has(event.id) && seen.add(event.id));
      if (fresh.length === 0) return [];
      const existing = await em.find(Patient, { userId: { $in: fresh.map((event) => event.data.userId) } }, { fields: ['userId'] });
      const withPatient = new Set(existing.map((patient) => patient.userId));
      const now = new Date();
      const created: { event: UserRegisteredEvent; patient: Patient }[] = [];
      for (const event of fresh) {
        const { userId, email, firstName, lastName } = event.data;
        if (withPatient.has(userId)) continue;
        withPatient.add(userId);
        created.push({ event, patient: Object.assign(new Patient(), { id: randomUUID(), userId, email, firstName, lastName, createdAt: now }) });
      }
      await em.insertMany(ProcessedEvent, fresh.map((event) => ({ id: event.id, processedAt: now })));
      if (created.length) {
        await em.insertMany(Patient, created.map(({ patient }) => patient));
        await em.insertMany(
          AuditEntry,
          created.map(({ event, patient }) => ({ id: randomUUID(), actorId: null, actorRole: 'SYSTEM', action: 'create' as const, patientId: patient.id, eventId: event.id, at: now })),
        );
      }
      return created;
    });
  }

  /** True when the database answers: tells an outage (retry until it is back) from a failing event. */
  async databaseAnswers(): Promise<boolean> {
    return pingDatabase(this.orm).then(
      () => true,
      () => false,
    );
  }

  /** Records that `caller` read these patient records (one audit entry each). */
  async recordReads(caller: Caller, patients: Patient[]): Promise<void> {
    if (patients.length === 0) return;
    const em = this.orm.em.fork();
    const at = new Date();
    for (const patient of patients) {
      em.persist(em.create(AuditEntry, { id: randomUUID(), actorId: caller.userId, actorRole: caller.role, action: 'read', patientId: patient.id, eventId: null, at }));
    }
    await em.flush();
  }

  findById(id: string): Promise<Patient | null> {
    return isUuid(id) ? this.orm.em.fork().findOne(Patient, { id }) : Promise.resolve(null);
  }

  async findByIds(ids: string[]): Promise<Map<string, Patient>> {
    const patients = await this.orm.em.fork().find(Patient, { id: { $in: ids.filter(isUuid) } });
    return new Map(patients.map((patient) => [patient.id, patient]));
  }

  async findByUserIds(userIds: string[]): Promise<Map<string, Patient>> {
    const patients = await this.orm.em.fork().find(Patient, { userId: { $in: userIds.filter(isUuid) } });
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
