import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from './errors';
import type { Logger } from './logger';

/**
 * Apollo Server's `formatError`: client errors pass through; anything else is logged in full and, in
 * production, reaches the client as a bare INTERNAL_SERVER_ERROR with no message details, stack or SQL.
 */
export function createFormatError(logger: Logger, isProduction: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // Production gives no hints about the schema: "Did you mean …?" suggestions are cut.
    if (isProduction && formatted.message.includes('Did you mean')) formatted = { ...formatted, message: formatted.message.replace(/\s*Did you mean .*$/s, '') };
    const code = formatted.extensions?.code;
    if (code !== undefined && code !== ErrorCode.InternalServerError) return formatted;
    const original = (error as { originalError?: unknown } | null)?.originalError ?? error;
    logger.error({ err: original, path: formatted.path }, 'Unexpected error while resolving an operation');
    if (!isProduction) return formatted;
    return { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: ErrorCode.InternalServerError } };
  };
}

/**
 * Collects the keys asked for in one tick and loads them with one call: a per-request cache against N+1
 * lookups (e.g. the `_entities` representations of one query). Create one per request.
 */
export function createBatchLoader<K, V>(loadMany: (keys: K[]) => Promise<Map<K, V>>): (key: K) => Promise<V | undefined> {
  const cache = new Map<K, Promise<V | undefined>>();
  let pending: { key: K; resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    loadMany([...new Set(batch.map((item) => item.key))]).then(
      (found) => batch.forEach((item) => item.resolve(found.get(item.key))),
      (error: unknown) => batch.forEach((item) => item.reject(error)),
    );
  };
  return (key) => {
    let promise = cache.get(key);
    if (!promise) {
      promise = new Promise((resolve, reject) => {
        if (pending.length === 0) process.nextTick(flush);
        pending.push({ key, resolve, reject });
      });
      cache.set(key, promise);
    }
    return promise;
  };
}
