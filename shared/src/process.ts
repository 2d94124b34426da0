import { ConfigError, loadConfig } from './config';
import type { Config } from './config';
import { createLogger } from './logger';

/** A start-up failure the operator can fix; its message is one line that says what to do. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Waits for `work`, `ms` at most: for a stop that lets what is under way finish, but not for ever. Resolves
 * when the work does or the time is up, whichever comes first, and rejects if the work rejects first.
 */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a stop may take before the process exits regardless. */
const STOP_DEADLINE_MS = 20_000;

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

/**
 * The body of every `index.ts`: read the configuration, start the service, stop it on SIGTERM or SIGINT.
 * A configuration or start-up error prints one line and exits 1.
 */
export function runService(name: string, start: (config: Config) => Promise<RunningService>): void {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(name, config.logLevel);
  start(config).then(
    (service) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, `Stopping ${name}`);
        // A shutdown that hangs must not outlive the orchestrator's patience: give up after 20 s.
        setTimeout(() => {
          logger.error(`${name} did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting anyway`);
          process.exit(1);
        }, STOP_DEADLINE_MS).unref();
        service.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, `${name} did not stop cleanly`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    },
    (error: unknown) => {
      if (error instanceof StartupError || error instanceof ConfigError) {
        process.stderr.write(`${name}: ${error.message}\n`);
      } else {
        logger.fatal({ err: error }, `${name} failed to start`);
      }
      process.exit(1);
    },
  );
}
