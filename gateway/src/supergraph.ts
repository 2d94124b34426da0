import type { SupergraphManager } from '@apollo/gateway';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { StartupError } from '@phos/shared';
import type { Logger } from '@phos/shared';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new StartupError(`cannot read the supergraph at ${path} (${(error as NodeJS.ErrnoException).code}). Run \`npm run compose\`, or set SUPERGRAPH_PATH.`);
  }
}

/**
 * The supergraph from a file, reloaded when the file changes (polled every `pollIntervalMs`): `npm run
 * compose` on a running system updates the gateway without a restart. A file that cannot be read or does not
 * compose is logged and the gateway keeps the schema it has.
 */
export function supergraphFromFile(path: string, logger: Logger, pollIntervalMs = 1000): SupergraphManager {
  return {
    async initialize({ update }) {
      let current = read(path);
      watchFile(path, { interval: pollIntervalMs, persistent: false }, () => {
        let next: string;
        try {
          next = readFileSync(path, 'utf8');
        } catch (error) {
          logger.warn({ path, err: { message: (error as Error).message } }, 'Cannot read the changed supergraph; keeping the current one');
          return;
        }
        if (next === current) return;
        try {
          update(next);
          current = next;
          logger.info({ path }, 'Loaded the changed supergraph');
        } catch (error) {
          logger.error({ path, err: { message: (error as Error).message } }, 'The changed supergraph is not valid; keeping the current one');
        }
      });
      return {
        supergraphSdl: current,
        cleanup: async () => unwatchFile(path),
      };
    },
  };
}
