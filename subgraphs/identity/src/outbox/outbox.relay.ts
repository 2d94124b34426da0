import { LockMode } from '@mikro-orm/core';
import { backoffMs, waitAtMost } from '@phos/shared';
import type { EventBus, Logger } from '@phos/shared';
import { isPostgres } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { OutboxEvent } from './outbox-event.entity';

/** How long `stop` waits for publications under way. */
const STOP_TIMEOUT_MS = 3000;
/**
 * How far the clocks of identity and Redis may disagree: an event counts as consumed only when it was
 * published this long before the time Redis gives for "every group has everything before it".
 */
const CLOCK_SKEW_MS = 5000;
/**
 * How long events published at once gather before one UPDATE marks them all (well within the loop's grace,
 * so the loop never takes them for unpublished). One commit per registration less for the database.
 */
const MARK_WINDOW_MS = 100;

export interface OutboxRelayOptions {
  /** How often the relay looks for unpublished events when nothing wakes it. Default 1000. */
  pollIntervalMs?: number;
  /** Events published per transaction. Default 100. */
  batchSize?: number;
  /**
   * How old an unpublished event must be before the polling loop takes it. Younger ones are being published
   * by the request that committed them ({@link OutboxRelay.publishCommitted}). Default 2000.
   */
  graceMs?: number;
  /** Called after each event is published (for the service's own log line). */
  onPublished?: (event: OutboxEvent) => void;
}

/**
 * Publishes stored events to the bus and marks them published only after the bus has taken them. An event is
 * published right after its commit by {@link OutboxRelay.publishCommitted}; the polling loop picks up whatever
 * a crash or an outage left behind. On PostgreSQL, replicas share the loop's work: rows are locked with SKIP
 * LOCKED.
 *
 * Taken is not yet delivered: Redis may restart and lose what it held (no persistence, or the last second of
 * an AOF). So each published row records the run of Redis that took it, and the loop {@link OutboxRelay.watch}es:
 * a row every consumer group has acknowledged is marked consumed, and a row not consumed that went to an
 * earlier run is published again. Consumers skip what they already applied.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  /** Publications of just-committed events still under way (awaited by stop). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Whether the last immediate publication failed: one warning per outage, not one per event. */
  private immediateFailing = false;
  private wake?: () => void;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly graceMs: number;
  /** The run of the transport seen last: what the fast path records as the run that took its event. */
  private instance?: string;
  private lastWatch = 0;
  /** Events published at once and not yet marked, with the run that took each. */
  private marks: { event: OutboxEvent; publishedTo: string | null }[] = [];
  private markTimer?: NodeJS.Timeout;

  constructor(
    private readonly orm: Database,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.graceMs = options.graceMs ?? 2000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * The fast path, called right after an event is committed: publishes it at once, then marks it published
   * (unless the loop got there first), together with the others published in the same moment. If either step
   * fails, the event stays in the outbox and the loop publishes it; at worst it is published twice, and
   * consumers apply it once.
   */
  publishCommitted(event: OutboxEvent): void {
    const { id, type, body } = event;
    this.track(
      this.currentInstance().then(async (instance) => {
        await this.bus.publish([{ id, type, body }]);
        this.immediateFailing = false;
        this.marks.push({ event, publishedTo: instance });
        this.markTimer ??= setTimeout(() => void this.flushMarks(), MARK_WINDOW_MS);
      }),
      [id],
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // The loop ends after the round under way; a database that hangs does not hold the service's stop.
    await waitAtMost(this.loop ?? Promise.resolve(), STOP_TIMEOUT_MS);
    // Publications under way finish and are marked, for a few seconds at most: one that does not stays in the outbox.
    const settle = async () => {
      await Promise.all(this.inFlight);
      await this.flushMarks();
    };
    await waitAtMost(settle(), STOP_TIMEOUT_MS);
    clearTimeout(this.markTimer);
  }

  /** Marks the events published at once since the last flush, one UPDATE per run of the transport. */
  private flushMarks(): Promise<void> {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const marks = this.marks.splice(0);
    if (marks.length === 0) return Promise.resolve();
    const byRun = new Map<string | null, OutboxEvent[]>();
    for (const { event, publishedTo } of marks) {
      const events = byRun.get(publishedTo);
      if (events) events.push(event);
      else byRun.set(publishedTo, [event]);
    }
    return this.track(
      (async () => {
        for (const [publishedTo, events] of byRun) {
          const marked = (await this.orm.em
            .fork()
            .createQueryBuilder(OutboxEvent)
            .update({ publishedAt: new Date(), publishedTo })
            .where({ id: { $in: events.map((event) => event.id) }, publishedAt: null })
            .returning('id')
            .execute('all')) as unknown as { id: string }[];
          const ids = new Set(marked.map((row) => row.id));
          for (const event of events) if (ids.has(event.id)) this.options.onPublished?.(event);
        }
      })(),
      marks.map((mark) => mark.event.id),
    );
  }

  /**
   * The run of the transport to record for a publication about to start: the one seen last, else asked now.
   * A publication goes to that run or a later one (the connection does not queue while down), so a restart
   * in between is never mistaken for safety; at worst the event goes out twice.
   */
  private async currentInstance(): Promise<string | null> {
    return this.instance ?? (await this.bus.instance?.()) ?? null;
  }

  /** Keeps `work` among the publications `stop` waits for; a failure leaves the events to the loop. */
  private track(work: Promise<void>, eventIds: string[]): Promise<void> {
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        const log = { eventIds, err: { message: (error as Error).message } };
        if (this.immediateFailing) this.logger.debug(log, 'Could not publish an event at once; the outbox relay will');
        else this.logger.warn(log, 'Could not publish an event at once; the outbox relay will');
        this.immediateFailing = true;
      })
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Events stored and not yet published. */
  backlog(): Promise<number> {
    return this.orm.em.fork().count(OutboxEvent, { publishedAt: null });
  }

  /** Events published and not yet known to be acknowledged by every consumer group. */
  unconsumed(): Promise<number> {
    return this.orm.em.fork().count(OutboxEvent, { publishedAt: { $ne: null }, consumedAt: null });
  }

  /**
   * Compares the outbox with the transport: published rows not consumed that went to another run of it (it
   * restarted since, or the run was not known) are unmarked, for the loop to publish again; rows every group
   * has acknowledged are marked consumed. Does nothing on a bus that cannot tell.
   */
  async watch(): Promise<{ republish: number; consumed: number }> {
    if (!this.bus.instance || !this.bus.consumedBefore) return { republish: 0, consumed: 0 };
    const current = await this.bus.instance();
    this.instance = current;
    const em = this.orm.em.fork();
    // Usually nothing is waiting to be consumed: one read, no writes.
    const types = (await em.createQueryBuilder(OutboxEvent).select('type', true).where({ publishedAt: { $ne: null }, consumedAt: null }).execute<{ type: string }[]>()).map((row) => row.type);
    if (types.length === 0) return { republish: 0, consumed: 0 };
    const republish = await em.nativeUpdate(
      OutboxEvent,
      { publishedAt: { $ne: null }, consumedAt: null, $or: [{ publishedTo: null }, { publishedTo: { $ne: current } }] },
      { publishedAt: null, publishedTo: null },
    );
    if (republish > 0) this.logger.warn({ events: republish }, 'Redis restarted without having delivered some events to every consumer group; publishing them again');
    let consumed = 0;
    for (const type of types) {
      const before = await this.bus.consumedBefore(type);
      if (before === null) continue;
      // The answer is the run's that took the rows only if Redis did not restart since `current` was read: a
      // fresh Redis whose groups hold nothing would say everything before now was consumed.
      if ((await this.bus.instance()) !== current) break;
      consumed += await em.nativeUpdate(
        OutboxEvent,
        { type, publishedTo: current, consumedAt: null, publishedAt: { $lt: new Date(before - CLOCK_SKEW_MS) } },
        { consumedAt: new Date() },
      );
    }
    return { republish, consumed };
  }

  /** Publishes one batch, all at once, and marks it published; returns how many. Rejects, marking none, on a bus failure. */
  async publishBatch(): Promise<number> {
    const published = await this.orm.em.fork().transactional(async (em) => {
      const rows = await em.find(
        OutboxEvent,
        { publishedAt: null, createdAt: { $lt: new Date(Date.now() - this.graceMs) } },
        {
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
          limit: this.batchSize,
          ...(isPostgres(this.orm) ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}),
        },
      );
      if (rows.length === 0) return rows;
      const publishedTo = await this.currentInstance();
      await this.bus.publish(rows.map(({ id, type, body }) => ({ id, type, body })));
      await em.nativeUpdate(OutboxEvent, { id: { $in: rows.map((row) => row.id) } }, { publishedAt: new Date(), publishedTo });
      return rows;
    });
    for (const row of published) this.options.onPublished?.(row);
    return published.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      if (Date.now() - this.lastWatch >= this.pollIntervalMs) {
        this.lastWatch = Date.now();
        // A failure here is Redis or the database being away: the batch below meets it too, and says so.
        await this.watch().catch((error: Error) => this.logger.debug({ err: { message: error.message } }, 'Could not compare the outbox with Redis'));
      }
      try {
        published = await this.publishBatch();
        if (failures > 0) this.logger.info('Publishing stored events again');
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures === 1) this.logger.warn({ err: { message: (error as Error).message } }, 'Cannot publish stored events; they stay in the outbox and are retried');
      }
      if (!this.running) break;
      if (failures === 0 && published === this.batchSize) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures ? backoffMs(failures, 200, 5000) : this.pollIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
