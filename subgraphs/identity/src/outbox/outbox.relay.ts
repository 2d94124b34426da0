import { LockMode } from '@mikro-orm/core';
import { backoffMs } from '@phos/shared';
import type { EventBus, Logger } from '@phos/shared';
import { isPostgres } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { OutboxEvent } from './outbox-event.entity';

export interface OutboxRelayOptions {
  /** How often the relay looks for unpublished events when nothing wakes it. Default 1000. */
  pollIntervalMs?: number;
  /** Events published per transaction. Default 100. */
  batchSize?: number;
  /** Called after each event is published (for the service's own log line). */
  onPublished?: (event: OutboxEvent) => void;
}

/**
 * Publishes stored events to the bus and marks each published only after the bus has taken it. It runs
 * continuously, is woken right after each commit, and picks up whatever a crash or an outage left behind.
 * On PostgreSQL, replicas share the work: rows are locked with SKIP LOCKED.
 */
export class OutboxRelay {
  private running = false;
  /** Set by kick(): another batch right away, even if one was running when the kick came. */
  private kicked = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly orm: Database,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Publishes now instead of at the next poll (call after committing an event). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Events stored and not yet published. */
  backlog(): Promise<number> {
    return this.orm.em.fork().count(OutboxEvent, { publishedAt: null });
  }

  /** Publishes one batch; returns how many were published. Rejects, after committing the published ones, on a bus failure. */
  async publishBatch(): Promise<number> {
    let failure: unknown;
    const published = await this.orm.em.fork().transactional(async (em) => {
      const rows = await em.find(
        OutboxEvent,
        { publishedAt: null },
        {
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
          limit: this.batchSize,
          ...(isPostgres(this.orm) ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}),
        },
      );
      const done: OutboxEvent[] = [];
      for (const row of rows) {
        try {
          await this.bus.publish({ id: row.id, type: row.type, body: row.body });
        } catch (error) {
          failure = error;
          break;
        }
        row.publishedAt = new Date();
        done.push(row);
      }
      return done;
    });
    for (const row of published) this.options.onPublished?.(row);
    if (failure) throw failure;
    return published.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      this.kicked = false;
      try {
        published = await this.publishBatch();
        if (failures > 0) this.logger.info('Publishing stored events again');
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures === 1) this.logger.warn({ err: { message: (error as Error).message } }, 'Cannot publish stored events; they stay in the outbox and are retried');
      }
      if (this.running && failures === 0 && (published === this.batchSize || this.kicked)) continue;
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
