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

/** The logger Apollo Server and Apollo Gateway take, writing into ours. */
export function apolloLogger(logger: Logger) {
  return {
    debug: (message: string) => logger.debug(message),
    info: (message: string) => logger.info(message),
    warn: (message: string) => logger.warn(message),
    error: (message: string) => logger.error(message),
  };
}
