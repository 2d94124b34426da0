/**
 * `npm run events -- <command>`: the operator's view of event delivery.
 *
 *   status                 stream length, consumer groups (lag, pending, consumers), dead letters, outbox backlog
 *   dead-letters           lists dead letters: ids, reason, deliveries (never the body: it holds personal data)
 *   redrive --all | <id>…  moves dead letters (by dead-letter id or event id) back into the stream
 *   replay --since <date>  publishes again every event stored in identity's outbox since an ISO-8601 date
 *   trim                   trims the stream to what some group still needs
 *
 * It reads the same configuration as the services (REDIS_URL, IDENTITY_DATABASE_URL, ...).
 */
import {
  ConfigError,
  StartupError,
  USER_REGISTERED_CHANNEL,
  connectRedis,
  createLogger,
  createRedisEventBus,
  groupStats,
  listDeadLetters,
  loadConfig,
  redriveDeadLetters,
  trimAcknowledged,
} from '@phos/shared';
import { openDatabase } from '@phos/shared/database';
import { IDENTITY_MIGRATIONS } from './migrations';
import { OutboxEvent, OutboxEventSchema } from './outbox/outbox-event.entity';
import { OutboxRelay } from './outbox/outbox.relay';
import { UserSchema } from './users/user.entity';

const STREAM = USER_REGISTERED_CHANNEL;
const USAGE = 'usage: npm run events -- status | dead-letters | redrive (--all | <id>...) | replay --since <ISO-8601 date> | trim';

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const config = loadConfig();
  const logger = createLogger('events', process.env.LOG_LEVEL ?? 'warn');
  const redis = await connectRedis(config.redisUrl, 'events-cli', logger);
  const out = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
  const openIdentity = () =>
    openDatabase({
      database: config.identity.database,
      entities: [UserSchema, OutboxEventSchema],
      migrations: IDENTITY_MIGRATIONS,
      envName: 'IDENTITY_DATABASE_URL',
      logger,
    });
  try {
    switch (command) {
      case 'status': {
        const orm = await openIdentity();
        const relay = new OutboxRelay(orm, createRedisEventBus(redis, logger), logger);
        try {
          const groups = ((await redis.publisher.xinfo('GROUPS', STREAM).catch(() => [])) as unknown[][]).map((raw) => {
            const fields: Record<string, unknown> = {};
            for (let i = 0; i + 1 < raw.length; i += 2) fields[String(raw[i])] = raw[i + 1];
            return { name: fields.name, consumers: fields.consumers, pending: fields.pending, lag: fields.lag };
          });
          const patients = await groupStats(redis.publisher, STREAM, 'patients');
          out({
            stream: STREAM,
            length: await redis.publisher.xlen(STREAM),
            groups,
            deadLetters: patients.deadLetters,
            outboxBacklog: await relay.backlog(),
            outboxUnconsumed: await relay.unconsumed(),
          });
        } finally {
          await orm.close();
        }
        return 0;
      }
      case 'dead-letters': {
        const letters = await listDeadLetters(redis.publisher, STREAM, 1000);
        out(letters.map(({ body: _body, ...letter }) => letter));
        return 0;
      }
      case 'redrive': {
        if (rest.length === 0) {
          out(USAGE);
          return 2;
        }
        const moved = await redriveDeadLetters(redis.publisher, STREAM, rest.includes('--all') ? undefined : rest);
        out(`Moved ${moved} dead letter(s) back into ${STREAM}.`);
        return 0;
      }
      case 'replay': {
        const since = rest[0] === '--since' ? new Date(rest[1] ?? '') : new Date(NaN);
        if (Number.isNaN(since.getTime())) {
          out(USAGE);
          return 2;
        }
        const orm = await openIdentity();
        try {
          const marked = await orm.em.fork().nativeUpdate(OutboxEvent, { createdAt: { $gte: since } }, { publishedAt: null });
          const relay = new OutboxRelay(orm, createRedisEventBus(redis, logger), logger, { graceMs: 0 });
          let published = 0;
          for (let batch = await relay.publishBatch(); batch > 0; batch = await relay.publishBatch()) published += batch;
          out(`Replayed ${published} of ${marked} event(s) stored since ${since.toISOString()}; consumers skip the ones they already applied.`);
        } finally {
          await orm.close();
        }
        return 0;
      }
      case 'trim':
        out(`Trimmed ${await trimAcknowledged(redis.publisher, STREAM)} entries from ${STREAM}.`);
        return 0;
      default:
        out(USAGE);
        return command ? 2 : 0;
    }
  } finally {
    await redis.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known = error instanceof ConfigError || error instanceof StartupError;
    process.stderr.write(`events: ${known ? (error as Error).message : (error as Error).stack}\n`);
    process.exit(1);
  },
);
