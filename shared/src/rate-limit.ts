import type { Redis } from 'ioredis';
import { ErrorCode, clientError } from './errors';
import type { Logger } from './logger';

export interface RateLimit {
  /** Attempts allowed per window. */
  limit: number;
  windowSeconds: number;
}

/** One limit an attempt counts against: the counter `ratelimit:<bucket>:<key>`. */
export interface RateCheck {
  bucket: string;
  key: string;
  rule: RateLimit;
}

/**
 * Counts one attempt against each counter in order (KEYS; ARGV holds limit and window of each): a counter's
 * window starts at its first attempt. Stops at the first counter past its limit, so the counters after it do
 * not count an attempt that was refused anyway. Returns { index of that counter (1-based), its TTL }, or { 0, 0 }.
 */
const COUNT_ATTEMPT = `
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[2 * i], 'NX')
  if count > tonumber(ARGV[2 * i - 1]) then
    return { i, redis.call('TTL', key) }
  end
end
return { 0, 0 }
`;

type CountingRedis = Redis & { phosCountAttempt(keyCount: number, ...keysAndArgs: (string | number)[]): Promise<[number, number]> };

/**
 * Fixed-window attempt counters in Redis, so a limit holds across replicas. `hit` counts one attempt against
 * each of its checks, in one round trip, and throws RATE_LIMITED (with `retryAfterSeconds`) at the first one
 * past its limit; the checks after that one do not count the attempt (an address over its limit cannot use
 * up an account's attempts). If Redis does not answer, attempts are let through and the failure is logged: a
 * Redis outage must not lock everyone out.
 */
export function createRateLimiter(redis: Redis, logger: Logger) {
  // A script Redis keeps by its hash: ioredis sends EVALSHA, and the script itself once after a Redis restart.
  if (!('phosCountAttempt' in redis)) redis.defineCommand('phosCountAttempt', { lua: COUNT_ATTEMPT });
  const counting = redis as CountingRedis;
  return async function hit(...checks: RateCheck[]): Promise<void> {
    let exceeded: number;
    let ttl: number;
    try {
      const keys = checks.map((check) => `ratelimit:${check.bucket}:${check.key}`);
      const args = checks.flatMap((check) => [check.rule.limit, check.rule.windowSeconds]);
      [exceeded, ttl] = await counting.phosCountAttempt(keys.length, ...keys, ...args);
    } catch (error) {
      logger.warn({ buckets: checks.map((check) => check.bucket), err: { message: (error as Error).message } }, 'Rate limiter unavailable; letting the attempt through');
      return;
    }
    if (exceeded > 0) {
      const retryAfterSeconds = Math.max(1, ttl);
      throw clientError(ErrorCode.RateLimited, `Too many attempts; try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
