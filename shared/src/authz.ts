import type { Caller } from './auth';
import { ErrorCode, clientError } from './errors';

/** Roles that may read any patient record and watch new ones. */
export const STAFF_ROLES: readonly string[] = ['DOCTOR', 'NURSE', 'ADMIN'];

/** What every service's context says about the caller. */
export interface CallerContext {
  caller: Caller | null;
  /** Why the token sent was refused, when one was sent and refused. */
  tokenError?: string;
}

export function isStaff(caller: Caller | null): boolean {
  return caller !== null && STAFF_ROLES.includes(caller.role);
}

/** The caller, or UNAUTHENTICATED (no token, or a bad or expired one). */
export function requireCaller(context: CallerContext): Caller {
  if (context.tokenError) throw clientError(ErrorCode.Unauthenticated, context.tokenError);
  if (!context.caller) throw clientError(ErrorCode.Unauthenticated, 'Sign in first: send "Authorization: Bearer <token>".');
  return context.caller;
}

export function forbidden(message = 'Your role may not do this.') {
  return clientError(ErrorCode.Forbidden, message);
}

/** A staff caller (DOCTOR, NURSE, ADMIN), or UNAUTHENTICATED / FORBIDDEN. */
export function requireStaff(context: CallerContext): Caller {
  const caller = requireCaller(context);
  if (!isStaff(caller)) throw forbidden('Only DOCTOR, NURSE and ADMIN may do this.');
  return caller;
}

/** The caller when it is `userId` itself or staff, else FORBIDDEN (or UNAUTHENTICATED). */
export function requireSelfOrStaff(context: CallerContext, userId: string): Caller {
  const caller = requireCaller(context);
  if (caller.userId !== userId && !isStaff(caller)) throw forbidden('A PATIENT may read only their own records.');
  return caller;
}

/**
 * Ends a subscription's source when the caller's token expires: the next read rejects with UNAUTHENTICATED
 * (graphql-ws sends it as the subscription's `error`) and the source is returned, releasing its listeners.
 */
export function endAtExpiry<T>(source: AsyncIterator<T>, expiresAt: number | undefined): AsyncIterableIterator<T> {
  const iterable = source as AsyncIterableIterator<T>;
  if (expiresAt === undefined) return iterable;
  let expired: unknown;
  /** Rejects the read in progress, if any (no Promise.race: its reactions would pile up until expiry). */
  let rejectRead: ((error: unknown) => void) | undefined;
  const release = async () => {
    clearTimeout(timer);
    await source.return?.();
  };
  const timer = setTimeout(
    () => {
      expired = clientError(ErrorCode.Unauthenticated, 'The token has expired: sign in again and resubscribe.');
      rejectRead?.(expired);
      void release().catch(() => undefined);
    },
    Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1),
  );
  timer.unref();
  return {
    next: () => {
      if (expired) return Promise.reject(expired);
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        rejectRead = reject;
        source.next().then(
          (result) => {
            rejectRead = undefined;
            // Over by itself (the upstream completed): the timer would keep the subscription in memory until expiry.
            if (result.done) clearTimeout(timer);
            resolve(result);
          },
          (error: unknown) => {
            rejectRead = undefined;
            void release().catch(() => undefined);
            reject(error);
          },
        );
      });
    },
    return: async (value?: unknown) => {
      await release();
      return { value: value as T, done: true };
    },
    throw: async (error?: unknown) => {
      await release();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
