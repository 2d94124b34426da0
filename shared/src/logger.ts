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
    redact: {
      paths: ['email', 'password', 'firstName', 'lastName', '*.email', '*.password', '*.firstName', '*.lastName', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  };
  // `destination` (default stdout) lets tests read the lines.
  return destination ? pino(options, destination) : pino(options);
}
