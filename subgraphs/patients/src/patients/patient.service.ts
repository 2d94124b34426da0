import type { FilterQuery } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { badUserInput, isUuid } from '@phos/shared';
import type { Caller, Logger, UserRegisteredEvent } from '@phos/shared';
import { isPostgres, pingDatabase } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { decodeCursor, encodeCursor } from './cursor';
import { Patient } from './patient.entity';
import { ProcessedEvent } from './processed-event.entity';
import { AuditEntry } from './audit-entry.entity';
import { WatchEntry } from './watch-entry.entity';

/** How long ended watches gather before one UPDATE records them all. */
const WATCH_END_WINDOW_MS = 100;
/** Watch ids per UPDATE (SQLite caps a statement's parameters). */
const WATCH_END_BATCH = 500;

export const MAX_PAGE_SIZE = 100;

export interface PatientPage {
  edges: { cursor: string; node: Patient }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /**
   * How many patients there are in all: a `COUNT(*)`, whose cost grows with the table, so it runs only when
   * asked for (`totalCount` selected), and at most once per page.
   */
  count(): Promise<number>;
}

/** Patient records: created from events, read by id, by user and page by page. */
export class PatientService {
  /** Watches that ended and are not yet recorded (see {@link recordWatchEnd}). */
  private endedWatches: string[] = [];
  private endTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly orm: Database,
    private readonly logger?: Logger,
  ) {}

  /**
   * Applies a UserRegistered event once: records the event id and creates the user's patient in one
   * transaction. A redelivered event (its id recorded) or a user who already has a patient creates nothing.
   */
  async createFromEvent(event: UserRegisteredEvent): Promise<Patient | null> {
    return (await this.createFromEvents([event]))[0]?.patient ?? null;
  }

  /**
   * Applies a batch of UserRegistered events in one transaction of three statements whatever its size:
   * events already recorded, and users who already have a patient, create nothing (ON CONFLICT DO NOTHING,
   * so a replica applying the same events at the same moment waits for ours and then skips them). Returns
   * the patients created, each with its event.
   */
  async createFromEvents(events: UserRegisteredEvent[]): Promise<{ event: UserRegisteredEvent; patient: Patient }[]> {
    if (events.length === 0) return [];
    if (isPostgres(this.orm)) return this.createFromEventsInOneStatement(events);
    return this.orm.em.fork().transactional(async (em) => {
      const now = new Date();
      const byId = new Map(events.map((event) => [event.id, event]));
      const recorded = (await em
        .createQueryBuilder(ProcessedEvent)
        .insert([...byId.keys()].map((id) => ({ id, processedAt: now })))
        .onConflict('id')
        .ignore()
        .returning('id')
        .execute('all')) as unknown as { id: string }[];
      const byUser = new Map<string, { event: UserRegisteredEvent; patient: Patient }>();
      for (const { id } of recorded) {
        const event = byId.get(id)!;
        const { userId, email, firstName, lastName } = event.data;
        if (!byUser.has(userId)) byUser.set(userId, { event, patient: Object.assign(new Patient(), { id: randomUUID(), userId, email, firstName, lastName, createdAt: now }) });
      }
      if (byUser.size === 0) return [];
      const inserted = (await em
        .createQueryBuilder(Patient)
        .insert([...byUser.values()].map(({ patient }) => patient))
        .onConflict('userId')
        .ignore()
        .returning('id')
        .execute('all')) as unknown as { id: string }[];
      const insertedIds = new Set(inserted.map(({ id }) => id));
      const created = [...byUser.values()].filter(({ patient }) => insertedIds.has(patient.id));
      if (created.length) {
        await em.insertMany(
          AuditEntry,
          created.map(({ event, patient }) => ({ id: randomUUID(), actorId: null, actorRole: 'SYSTEM', action: 'create' as const, patientId: patient.id, eventId: event.id, at: now })),
        );
      }
      return created;
    });
  }

  /**
   * {@link createFromEvents} on PostgreSQL: the same three inserts as one statement (data-modifying WITH
   * queries), so one round trip and no BEGIN and COMMIT. The first event of each user in the batch, among
   * those not recorded before, is the one that creates its patient.
   */
  private async createFromEventsInOneStatement(events: UserRegisteredEvent[]): Promise<{ event: UserRegisteredEvent; patient: Patient }[]> {
    const now = new Date();
    const rows = [...new Map(events.map((event) => [event.id, event])).values()].map((event) => {
      const { userId, email, firstName, lastName } = event.data;
      return { event, auditId: randomUUID(), patient: Object.assign(new Patient(), { id: randomUUID(), userId, email, firstName, lastName, createdAt: now }) };
    });
    const sql = `with input (event_id, patient_id, audit_id, user_id, email, first_name, last_name, ord) as (values ${rows.map(() => '(?, ?::uuid, ?::uuid, ?::uuid, ?, ?, ?, ?::int)').join(', ')}),
      recorded as (insert into processed_events (id, processed_at) select event_id, ?::timestamptz from input on conflict (id) do nothing returning id),
      chosen as (select distinct on (input.user_id) input.* from input join recorded on recorded.id = input.event_id order by input.user_id, input.ord),
      created as (insert into patients (id, user_id, email, first_name, last_name, created_at) select patient_id, user_id, email, first_name, last_name, ?::timestamptz from chosen on conflict (user_id) do nothing returning id),
      audited as (insert into audit_log (id, actor_id, actor_role, action, patient_id, event_id, at) select chosen.audit_id, null, 'SYSTEM', 'create', chosen.patient_id, chosen.event_id, ?::timestamptz from chosen join created on created.id = chosen.patient_id)
      select id from created`;
    const bindings = [
      ...rows.flatMap(({ event, auditId, patient }, ord) => [event.id, patient.id, auditId, patient.userId, patient.email, patient.firstName, patient.lastName, ord]),
      now,
      now,
      now,
    ];
    const created = new Set((await this.orm.em.fork().getConnection().execute<{ id: string }[]>(sql, bindings, 'all')).map((row) => row.id));
    return rows.filter(({ patient }) => created.has(patient.id)).map(({ event, patient }) => ({ event, patient }));
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

  /** Records that `caller` started watching a live feed of patient records (`field`); returns the entry's id. */
  async recordWatchStart(caller: Caller, field: string): Promise<string> {
    const id = randomUUID();
    await this.orm.em.fork().insert(WatchEntry, { id, actorId: caller.userId, actorRole: caller.role, field, startedAt: new Date(), endedAt: null });
    return id;
  }

  /**
   * Records that the watch `id` ended, together with the others that end within 100 ms: one UPDATE for a
   * thousand screens closing at once, not a thousand. The recorded end is up to that much late, never early.
   */
  recordWatchEnd(id: string): void {
    this.endedWatches.push(id);
    this.endTimer ??= setTimeout(() => void this.flushWatchEnds(), WATCH_END_WINDOW_MS);
  }

  /** Writes the ends of watches recorded so far (at once, e.g. before the service stops). Keeps them for the next try if the database fails. */
  async flushWatchEnds(): Promise<void> {
    clearTimeout(this.endTimer);
    this.endTimer = undefined;
    const ids = this.endedWatches.splice(0);
    const endedAt = new Date();
    for (let start = 0; start < ids.length; start += WATCH_END_BATCH) {
      const batch = ids.slice(start, start + WATCH_END_BATCH);
      try {
        await this.orm.em.fork().nativeUpdate(WatchEntry, { id: { $in: batch }, endedAt: null }, { endedAt });
      } catch (error) {
        this.endedWatches.push(...ids.slice(start));
        this.logger?.warn({ watches: ids.length - start, err: error }, 'Could not record the end of watches; trying again with the next ones');
        return;
      }
    }
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
    const rows = first === 0 ? [] : await em.find(Patient, where, { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: first + 1 });
    const nodes = rows.slice(0, first);
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node), node }));
    let counted: Promise<number> | undefined;
    const count = () => (counted ??= em.fork().count(Patient));
    return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null }, count };
  }
}
