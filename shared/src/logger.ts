import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs, one object a line. Log ids (userId, patientId, eventId), never names, emails or
 * passwords: the redact list is a second line of defence, not the first.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Every `err` is cut down to what may be logged: see loggableError.
    serializers: { err: loggableError },
    redact: {
      paths: ['email', 'password', 'firstName', 'lastName', '*.email', '*.password', '*.firstName', '*.lastName', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  };
  // `destination` (default stdout) lets tests read the lines.
  return destination ? pino(options, destination) : pino(options);
}

/** The logger Apollo Server and Apollo Gateway take, writing into ours. */
export function apolloLogger(logger: Logger) {
  return {
    debug: (message: string) => logger.debug(message),
    info: (message: string) => logger.info(message),
    warn: (message: string) => logger.warn(message),
    error: (message: string) => logger.error(message),
  };
}

/** What of an error a log line (or a dead letter, or an exported span) may carry. */
export interface LoggableError {
  type?: string;
  message: string;
  /** A PostgreSQL SQLSTATE, a SQLite result code, a Node.js error code (`ECONNREFUSED`). */
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  syscall?: string;
  address?: string;
  port?: number;
  stack?: string;
}

/**
 * The database drivers put the statement that failed, its values written in (emails, names, password
 * hashes), at the head of their messages: `insert into "users" (…) values ('ada@example.org', …) - duplicate
 * key …`.
 */
const FAILED_STATEMENT = /^\s*(?:insert|update|delete|select|with|begin|commit|rollback|savepoint|release|set|create|alter|drop|pragma)\b[\s\S]* - /i;
/** Quoted text in a database's own message: a name, or the value that did not fit (`invalid input syntax for type uuid: "…"`). */
const QUOTED = /"[^"]*"|'[^']*'|`[^`]*`/g;
/** A PostgreSQL SQLSTATE (`23505`) or a SQLite result code (`SQLITE_BUSY`). */
const DATABASE_CODE = /^(?:[0-9A-Z]{5}|SQLITE_[A-Z_]+)$/;

/**
 * An error as it may be logged: its type, message, code, where it happened, and its stack frames, and
 * nothing else. Other properties stay out (PostgreSQL's `detail` holds the offending key, an ioredis error
 * its command with every argument). A database error's message loses the statement the driver put in
 * front, and any quoted text of its own; its constraint, table and column say what failed. Pino's
 * serializer of `err`, so every `logger.x({ err })` goes through it; a plain `{ message }` too.
 */
export function loggableError(error: unknown): LoggableError {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const e = error as Record<string, unknown>;
  const text = (key: string) => (typeof e[key] === 'string' ? (e[key] as string) : undefined);
  const rawCode = typeof e.code === 'number' ? String(e.code) : text('code');
  let message = text('message') ?? '';
  const fromDatabase = FAILED_STATEMENT.test(message) || (rawCode !== undefined && DATABASE_CODE.test(rawCode));
  if (fromDatabase) message = message.replace(FAILED_STATEMENT, '').replace(QUOTED, (quoted) => `${quoted[0]}…${quoted[0]}`);
  const out: LoggableError = { message };
  if (error instanceof Error) out.type = error.name;
  if (rawCode !== undefined) out.code = rawCode;
  for (const key of ['constraint', 'table', 'column', 'syscall', 'address'] as const) if (text(key) !== undefined) out[key] = text(key);
  if (typeof e.port === 'number') out.port = e.port;
  // The stack's first lines repeat the message: only its frames are kept, under the message as logged.
  const stack = text('stack');
  if (stack !== undefined) out.stack = [`${out.type ?? 'Error'}: ${message}`, ...stack.split('\n').filter((line) => /^\s+at /.test(line))].join('\n');
  return out;
}
