import type { Redis } from 'ioredis';
import { loggableError } from '../logger';
import type { Logger } from '../logger';
import { waitAtMost } from '../process';
import type { RedisConnections } from '../redis';
import { PoisonEventError, TransientEventError, deadLetterStreamOf } from './event-bus';
import type { ConsumeOptions, EventConsumer, StreamEntry } from './event-bus';
import { ensureGroup, fieldsOf, groupStats, trimAcknowledged } from './redis-streams';

const BLOCK_MS = 2000;
/** How long `stop` waits for the loop to finish what it has in hand. */
const STOP_TIMEOUT_MS = 5000;
/** How often a consumer trims the entries every group has acknowledged. */
const TRIM_INTERVAL_MS = 30_000;

/** Exponential backoff with full jitter: a random delay up to base × 2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Reads a stream as one consumer of a group (XREADGROUP), on a connection of its own since reads block.
 * Entries left pending by a consumer that died are claimed after `claimIdleMs` (XPENDING + XCLAIM, which
 * count deliveries). See {@link ConsumeOptions} for what the handler's outcome means.
 */
export async function consumeRedisStream(redis: RedisConnections, logger: Logger, options: ConsumeOptions): Promise<EventConsumer> {
  const { stream, group, consumer, handle } = options;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const retryBaseMs = options.retryBaseMs ?? 100;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
  const batchSize = options.batchSize ?? 50;
  const deadLetters = deadLetterStreamOf(stream);
  const observer = options.observer ?? {};
  const commands = redis.publisher;
  const reader: Redis = commands.duplicate({ connectionName: `${consumer}:reader`, lazyConnect: true });
  reader.on('error', () => undefined); // reported by the loop below
  await reader.connect();
  await ensureGroup(commands, stream, group);

  let running = true;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const deadLetter = async (entry: StreamEntry, reason: string) => {
    await commands
      .multi()
      .xadd(deadLetters, '*', ...(entry.eventId ? ['id', entry.eventId] : []), 'streamId', entry.streamId, 'group', group, 'reason', reason, 'deliveries', String(entry.deliveries), 'failedAt', new Date().toISOString(), 'body', entry.body)
      .xack(stream, group, entry.streamId)
      .exec();
    observer.onDeadLettered?.(entry);
    logger.warn({ traceId: options.traceIdOf?.(entry), eventId: entry.eventId, streamId: entry.streamId, deliveries: entry.deliveries, reason }, 'Moved an event to the dead-letter stream');
  };

  /** Handles one entry to its end: acknowledged, dead-lettered, or left pending because we are stopping. */
  const handleEntry = async (streamId: string, flat: string[], deliveries: number) => {
    const fields = fieldsOf(flat);
    const entry: StreamEntry = { streamId, eventId: fields.id || undefined, body: fields.body ?? '', deliveries };
    let outage = 0;
    while (running) {
      try {
        await handle(entry);
      } catch (error) {
        // A dead letter's reason is read by operators (`events dead-letters`): only what a log line may carry.
        const reason = loggableError(error).message;
        if (error instanceof PoisonEventError) return deadLetter(entry, reason);
        if (error instanceof TransientEventError) {
          outage += 1;
          observer.onRetried?.(entry);
          if (outage === 1) logger.warn({ traceId: options.traceIdOf?.(entry), eventId: entry.eventId, reason }, 'A dependency is down; retrying the event until it is back');
          await pause(backoffMs(outage, retryBaseMs, maxRetryDelayMs));
          continue;
        }
        if (entry.deliveries >= maxDeliveries) return deadLetter(entry, `failed ${entry.deliveries} deliveries: ${reason}`);
        observer.onRetried?.(entry);
        logger.warn({ traceId: options.traceIdOf?.(entry), eventId: entry.eventId, deliveries: entry.deliveries, err: error }, 'Event handling failed; retrying');
        await pause(backoffMs(entry.deliveries, retryBaseMs, maxRetryDelayMs));
        entry.deliveries += 1;
        continue;
      }
      return acknowledge(entry);
    }
  };

  /**
   * Acknowledges handled entries (one XACK), retrying while Redis does not answer: that is no failure of the
   * events', which are not handled again meanwhile. If we stop first, they stay pending, and whoever claims
   * them applies them again, which changes nothing.
   */
  const acknowledge = async (...entries: StreamEntry[]) => {
    for (let attempt = 1; running; attempt++) {
      try {
        await commands.xack(stream, group, ...entries.map((entry) => entry.streamId));
        for (const entry of entries) observer.onConsumed?.(entry);
        return;
      } catch (error) {
        if (attempt === 1) logger.warn({ eventIds: entries.map((entry) => entry.eventId), err: error }, 'Could not acknowledge handled events; retrying');
        await pause(backoffMs(attempt, retryBaseMs, maxRetryDelayMs));
      }
    }
  };

  /**
   * Handles the entries of one read: all at once when the caller has a batch handler (one XACK), else, or
   * when the batch fails, one by one.
   */
  const handleEntries = async (entries: [string, string[]][]) => {
    if (options.handleBatch && entries.length > 1) {
      const batch = entries.map(([streamId, flat]): StreamEntry => {
        const fields = fieldsOf(flat);
        return { streamId, eventId: fields.id || undefined, body: fields.body ?? '', deliveries: 1 };
      });
      let handled = false;
      try {
        await options.handleBatch(batch);
        handled = true;
      } catch (error) {
        if (!running) return;
        logger.debug({ count: batch.length, err: error }, 'A batch of events failed; handling them one by one');
      }
      if (handled) return acknowledge(...batch);
    }
    for (const [id, flat] of entries) await handleEntry(id, flat, 1);
  };

  /**
   * Claims entries pending longer than `claimIdleMs`: another consumer's that died, or our own whose
   * acknowledgement Redis lost in a crash (we handle entries one at a time, so none of ours is in hand now).
   */
  const claimStale = async () => {
    const stale = (await commands.xpending(stream, group, 'IDLE', claimIdleMs, '-', '+', batchSize)) as [string, string, number, number][];
    if (stale.length === 0) return;
    // What XCLAIM leaves out is not ours to touch: an entry the stream no longer holds (trimmed or lost), which
    // Redis (7.0 and newer) drops from the pending list itself, or one another replica claimed a moment ago,
    // which that replica now handles.
    const claimed = ((await commands.xclaim(stream, group, consumer, claimIdleMs, ...stale.map(([id]) => id))) as [string, string[] | null][]).filter(
      (entry): entry is [string, string[]] => entry[1] !== null,
    );
    const deliveriesOf = new Map(stale.map(([id, , , count]) => [id, count + 1]));
    if (claimed.length) logger.info({ count: claimed.length }, 'Claimed events left pending too long');
    for (const [id, flat] of claimed) await handleEntry(id, flat, deliveriesOf.get(id) ?? 1);
  };

  /** Where the loop is, for the log when it is stopped. */
  let stage: 'start' | 'claim' | 'read' | 'handle' | 'backoff' = 'start';
  const loop = async () => {
    let nextClaimAt = 0;
    let nextTrimAt = Date.now() + TRIM_INTERVAL_MS;
    let failures = 0;
    while (running) {
      try {
        if (Date.now() >= nextClaimAt) {
          stage = 'claim';
          await claimStale();
          nextClaimAt = Date.now() + Math.min(claimIdleMs, 5000);
        }
        if (Date.now() >= nextTrimAt) {
          const trimmed = await trimAcknowledged(commands, stream);
          if (trimmed) logger.debug({ stream, trimmed }, 'Trimmed acknowledged events from the stream');
          // Lag, pending and dead letters in the log too, whenever there is something to see.
          const stats = await groupStats(commands, stream, group);
          if (stats.lag || stats.pending || stats.deadLetters) logger.info({ stream, group, ...stats }, 'Event consumer status');
          nextTrimAt = Date.now() + TRIM_INTERVAL_MS;
        }
        stage = 'read';
        const result = (await reader.xreadgroup('GROUP', group, consumer, 'COUNT', batchSize, 'BLOCK', Math.min(BLOCK_MS, claimIdleMs), 'STREAMS', stream, '>')) as
          | [string, [string, string[]][]][]
          | null;
        if (failures > 0) logger.info({ stream }, 'Reading the event stream again');
        failures = 0;
        stage = 'handle';
        for (const [, entries] of result ?? []) await handleEntries(entries);
      } catch (error) {
        if (!running) break;
        failures += 1;
        const message = (error as Error).message;
        if (message.includes('NOGROUP')) await ensureGroup(commands, stream, group).catch(() => undefined);
        if (failures === 1) logger.warn({ stream, err: { message } }, 'Cannot read the event stream; retrying');
        stage = 'backoff';
        await pause(backoffMs(failures, retryBaseMs * 5, maxRetryDelayMs));
      }
    }
  };
  const done = loop();

  return {
    async stop() {
      running = false;
      wake?.();
      logger.debug({ stage, readerStatus: reader.status }, 'Stopping the event consumer');
      // Disconnecting ends a blocked XREADGROUP at once, except one that ioredis holds for resending after a
      // reconnect (Redis went away first): then stop waiting. An entry in hand stays pending; another
      // consumer claims it.
      reader.disconnect();
      await waitAtMost(done, STOP_TIMEOUT_MS);
    },
    stats: () => groupStats(commands, stream, group),
  };
}
