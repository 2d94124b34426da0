import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs, one object a line. Log ids (userId, patientId, eventId), never names, emails or
 * passwords: the redact list is a second line of defence, not the first.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['email', 'password', 'firstName', 'lastName', '*.email', '*.password', '*.firstName', '*.lastName', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  });
}
