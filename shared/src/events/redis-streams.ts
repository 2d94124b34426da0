import type { Redis } from 'ioredis';
import { deadLetterStreamOf } from './event-bus';
import type { ConsumerStats } from './event-bus';

/** Field/value pairs of a stream entry as a record. */
export function fieldsOf(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

/** Creates the group reading from the start of the stream (creating the stream too); an existing group is kept. */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
  }
}

/** The most entries counted by hand when Redis does not report a group's lag. */
const LAG_COUNT_CAP = 10_000;

interface GroupInfo {
  name: string;
  pending: number;
  lag: number | null;
  lastDeliveredId: string;
}

async function groupsOf(redis: Redis, stream: string): Promise<GroupInfo[]> {
  let raw: unknown[];
  try {
    raw = (await redis.xinfo('GROUPS', stream)) as unknown[];
  } catch (error) {
    if (String((error as Error).message).includes('no such key')) return [];
    throw error;
  }
  return raw.map((entry) => {
    const info = fieldsOf((entry as unknown[]).map(String));
    return { name: info.name, pending: Number(info.pending), lag: info.lag === '' || info.lag === undefined ? null : Number(info.lag), lastDeliveredId: info['last-delivered-id'] };
  });
}

/** Redis's `run_id`: it changes whenever the server restarts, and with it maybe what the server held. */
export async function runIdOf(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  const runId = /^run_id:(\w+)/m.exec(info)?.[1];
  if (!runId) throw new Error('Redis did not report a run_id');
  return runId;
}

/** The millisecond part of a stream id. */
function millisOf(streamId: string): number {
  return Number(streamId.split('-')[0]);
}

/**
 * A time, in Redis's clock (ms), before which every entry appended to the stream has been acknowledged by
 * every group: the oldest entry some group still has pending or not yet delivered, or Redis's time now when
 * none has. Null when no group reads the stream (nothing is consumed).
 */
export async function consumedBefore(redis: Redis, stream: string): Promise<number | null> {
  // Redis's time first: an entry appended after it is not counted as consumed by the groups read below.
  const [seconds, micros] = await redis.time();
  let floor = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const groups = await groupsOf(redis, stream);
  if (groups.length === 0) return null;
  for (const group of groups) {
    const [oldestPending, nextUndelivered] = await Promise.all([
      group.pending > 0 ? (redis.xpending(stream, group.name) as Promise<[number, string | null, string | null, unknown]>).then((summary) => summary[1]) : null,
      (redis.xrange(stream, `(${group.lastDeliveredId}`, '+', 'COUNT', 1) as Promise<[string, string[]][]>).then((entries) => entries[0]?.[0] ?? null),
    ]);
    for (const id of [oldestPending, nextUndelivered]) if (id) floor = Math.min(floor, millisOf(id));
  }
  return floor;
}

/** Lag, pending and dead-letter counts of one group. */
export async function groupStats(redis: Redis, stream: string, group: string): Promise<ConsumerStats> {
  const [groups, deadLetters, length] = await Promise.all([groupsOf(redis, stream), redis.xlen(deadLetterStreamOf(stream)), redis.xlen(stream)]);
  const info = groups.find((g) => g.name === group);
  if (!info) return { lag: length, pending: 0, deadLetters };
  // Redis reports no lag when it cannot tell (after a restart from AOF, or deletions): count what follows the
  // group's last delivered entry instead, up to a cap.
  const lag = info.lag ?? (await redis.xrange(stream, `(${info.lastDeliveredId}`, '+', 'COUNT', LAG_COUNT_CAP)).length;
  return { lag, pending: info.pending, deadLetters };
}

/**
 * Trims the stream to the entries some group still needs: everything before the oldest entry that any group
 * has pending or not yet read goes. A stream no group reads is left whole.
 */
export async function trimAcknowledged(redis: Redis, stream: string): Promise<number> {
  const groups = await groupsOf(redis, stream);
  if (groups.length === 0) return 0;
  const floors = await Promise.all(
    groups.map(async (group) => {
      if (group.pending > 0) {
        const summary = (await redis.xpending(stream, group.name)) as [number, string | null, string | null, unknown];
        if (summary[1]) return summary[1];
      }
      return group.lastDeliveredId;
    }),
  );
  const compare = (a: string, b: string) => {
    const [am, as] = a.split('-').map(BigInt);
    const [bm, bs] = b.split('-').map(BigInt);
    return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
  };
  const floor = floors.sort(compare)[0];
  if (!floor || floor === '0-0') return 0;
  // MINID keeps the floor entry itself: it may be one a group still has pending.
  return Number(await redis.xtrim(stream, 'MINID', floor));
}

export interface DeadLetter {
  deadLetterId: string;
  eventId?: string;
  streamId?: string;
  reason: string;
  deliveries: number;
  failedAt: string;
  body: string;
}

export async function listDeadLetters(redis: Redis, stream: string, count = 100): Promise<DeadLetter[]> {
  const entries = (await redis.xrange(deadLetterStreamOf(stream), '-', '+', 'COUNT', count)) as [string, string[]][];
  return entries.map(([deadLetterId, flat]) => {
    const fields = fieldsOf(flat);
    return {
      deadLetterId,
      eventId: fields.id || undefined,
      streamId: fields.streamId,
      reason: fields.reason,
      deliveries: Number(fields.deliveries),
      failedAt: fields.failedAt,
      body: fields.body,
    };
  });
}

/**
 * Moves dead letters back into the stream (all, or those whose dead-letter or event id is listed), each as
 * one atomic XADD + XDEL. Returns how many were moved.
 */
export async function redriveDeadLetters(redis: Redis, stream: string, ids?: string[]): Promise<number> {
  let moved = 0;
  for (;;) {
    const batch = (await listDeadLetters(redis, stream, 500)).filter((letter) => !ids || ids.includes(letter.deadLetterId) || (letter.eventId !== undefined && ids.includes(letter.eventId)));
    if (batch.length === 0) return moved;
    for (const letter of batch) {
      await redis
        .multi()
        .xadd(stream, '*', ...(letter.eventId ? ['id', letter.eventId] : []), 'body', letter.body)
        .xdel(deadLetterStreamOf(stream), letter.deadLetterId)
        .exec();
      moved += 1;
    }
    if (ids) return moved;
  }
}
