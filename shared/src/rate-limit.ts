import type { Redis } from 'ioredis';
import { ErrorCode, clientError } from './errors';
import type { Logger } from './logger';

export interface RateLimit {
  /** Attempts allowed per window. */
  limit: number;
  windowSeconds: number;
}

/**
 * Fixed-window attempt counters in Redis, so a limit holds across replicas. `hit` counts one attempt and
 * throws RATE_LIMITED (with `retryAfterSeconds`) past the limit. If Redis does not answer, attempts are let
 * through and the failure is logged: a Redis outage must not lock everyone out.
 */
export function createRateLimiter(redis: Redis, logger: Logger) {
  return async function hit(bucket: string, key: string, rule: RateLimit): Promise<void> {
    const name = `ratelimit:${bucket}:${key}`;
    let count: number;
    let ttl: number;
    try {
      const results = await redis.multi().incr(name).expire(name, rule.windowSeconds, 'NX').ttl(name).exec();
      if (!results || results.some(([error]) => error)) throw results?.find(([error]) => error)?.[0] ?? new Error('discarded');
      count = Number(results[0][1]);
      ttl = Number(results[2][1]);
    } catch (error) {
      logger.warn({ bucket, err: { message: (error as Error).message } }, 'Rate limiter unavailable; letting the attempt through');
      return;
    }
    if (count > rule.limit) {
      const retryAfterSeconds = Math.max(1, ttl);
      throw clientError(ErrorCode.RateLimited, `Too many attempts; try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
