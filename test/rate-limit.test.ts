import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger, createRateLimiter } from '@phos/shared';
import type { RateCheck } from '@phos/shared';
import { redisClient } from './support/redis';

/** A logger whose lines land in `lines` (parsed). */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'info', destination), lines };
}

describe('rate limiter (real Redis)', () => {
  const redis = redisClient();
  const { logger } = capturingLogger();
  const hit = createRateLimiter(redis, logger);
  const unique = () => randomBytes(6).toString('hex');
  const check = (bucket: string, limit: number, windowSeconds = 60): RateCheck => ({ bucket, key: 'k', rule: { limit, windowSeconds } });
  const counter = async (bucket: string) => Number(await redis.get(`ratelimit:${bucket}:k`));
  const refusal = (attempt: Promise<void>) => attempt.then(() => undefined, (error: { extensions?: Record<string, unknown> }) => error.extensions);

  afterAll(() => redis.quit());

  it('lets attempts through up to the limit and refuses the next with RATE_LIMITED and the seconds left', async () => {
    const bucket = unique();
    for (let i = 0; i < 3; i += 1) await hit(check(bucket, 3, 60));
    const refused = await refusal(hit(check(bucket, 3, 60)));
    expect(refused).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused!.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused!.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(await redis.ttl(`ratelimit:${bucket}:k`)).toBeGreaterThan(0);
  });

  it('counts an attempt against every check, and not against the checks after one that refuses it', async () => {
    const [address, account] = [unique(), unique()];
    await hit(check(address, 1), check(account, 5));
    expect([await counter(address), await counter(account)]).toEqual([1, 1]);
    expect(await refusal(hit(check(address, 1), check(account, 5)))).toMatchObject({ code: 'RATE_LIMITED' });
    // The address was over its limit: the account's attempts are not used up by it.
    expect([await counter(address), await counter(account)]).toEqual([2, 1]);
  });

  it('refuses by a later check when an earlier one allows the attempt', async () => {
    const [address, account] = [unique(), unique()];
    await hit(check(address, 10), check(account, 1));
    expect(await refusal(hit(check(address, 10), check(account, 1)))).toMatchObject({ code: 'RATE_LIMITED' });
    expect([await counter(address), await counter(account)]).toEqual([2, 2]);
  });

  it('sends one command to Redis per attempt, whatever the number of checks', async () => {
    const sent: string[] = [];
    const counted = new Redis(redis.options);
    const sendCommand = counted.sendCommand.bind(counted);
    counted.sendCommand = (command, stream) => {
      sent.push(command.name);
      return sendCommand(command, stream);
    };
    try {
      const countedHit = createRateLimiter(counted, logger);
      await countedHit(check(unique(), 5)); // loads the script, if Redis does not have it yet
      sent.length = 0;
      await countedHit(check(unique(), 5), check(unique(), 5), check(unique(), 5));
      expect(sent).toEqual(['evalsha']);
    } finally {
      counted.disconnect();
    }
  });

  it('counts on after Redis has forgotten the script (a restart)', async () => {
    const bucket = unique();
    await hit(check(bucket, 5));
    await redis.script('FLUSH');
    await hit(check(bucket, 5));
    expect(await counter(bucket)).toBe(2);
  });

  it('lets attempts through, and says so in the log, when Redis does not answer', async () => {
    const { logger: watched, lines } = capturingLogger();
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined);
    try {
      await expect(createRateLimiter(down, watched)(check(unique(), 0))).resolves.toBeUndefined();
      expect(lines).toEqual([expect.objectContaining({ msg: 'Rate limiter unavailable; letting the attempt through' })]);
    } finally {
      down.disconnect();
    }
  });
});
