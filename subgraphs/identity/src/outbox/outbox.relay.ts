import { LockMode } from '@mikro-orm/core';
import { backoffMs } from '@phos/shared';
import type { EventBus, Logger } from '@phos/shared';
import { isPostgres } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { OutboxEvent } from './outbox-event.entity';

/** How long `stop` waits for publications under way. */
const STOP_TIMEOUT_MS = 3000;

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
   * (unless the loop got there first). If either step fails, the event stays in the outbox and the loop
   * publishes it; at worst it is published twice, and consumers apply it once.
   */
  publishCommitted(event: OutboxEvent): void {
    const { id, type, body } = event;
    const work = this.bus
      .publish([{ id, type, body }])
      .then(() => this.orm.em.fork().nativeUpdate(OutboxEvent, { id, publishedAt: null }, { publishedAt: new Date() }))
      .then((marked) => {
        this.immediateFailing = false;
        if (marked) this.options.onPublished?.(event);
      })
      .catch((error: unknown) => {
        const log = { eventId: id, err: { message: (error as Error).message } };
        if (this.immediateFailing) this.logger.debug(log, 'Could not publish an event at once; the outbox relay will');
        else this.logger.warn(log, 'Could not publish an event at once; the outbox relay will');
        this.immediateFailing = true;
      })
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    // Publications under way finish, for a few seconds at most: one that does not stays in the outbox.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inFlight), new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /** Events stored and not yet published. */
  backlog(): Promise<number> {
    return this.orm.em.fork().count(OutboxEvent, { publishedAt: null });
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
      await this.bus.publish(rows.map(({ id, type, body }) => ({ id, type, body })));
      await em.nativeUpdate(OutboxEvent, { id: { $in: rows.map((row) => row.id) } }, { publishedAt: new Date() });
      return rows;
    });
    for (const row of published) this.options.onPublished?.(row);
    return published.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      try {
        published = await this.publishBatch();
        if (failures > 0) this.logger.info('Publishing stored events again');
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures === 1) this.logger.warn({ err: { message: (error as Error).message } }, 'Cannot publish stored events; they stay in the outbox and are retried');
      }
      if (this.running && failures === 0 && published === this.batchSize) continue;
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
