import { createSourceEventStream, execute, print } from 'graphql';
import type { ExecutionArgs, ExecutionResult } from 'graphql';

export interface SharedSubscribeOptions {
  /**
   * What, besides the operation and its variables, a result may depend on (the caller's role, say): results
   * are shared only between subscribers with the same answer. Never the caller's identity.
   */
  audienceOf: (args: ExecutionArgs) => string;
  /** `extensions` to send with an event's result (its `traceparent`, say), read from the event. */
  extensionsOf?: (event: unknown) => Record<string, unknown> | undefined;
}

/**
 * graphql-ws's `subscribe`, executing each event once per distinct operation rather than once per subscriber.
 * Each subscriber subscribes with its own context, so the field's `subscribe` resolver checks its access and
 * ends it at its token's expiry, as usual. An event's result is then computed once and handed to every
 * subscriber with the same operation, variables and audience: the pubsub hands every subscriber the same
 * event object, which keys the cache (and lets it go with the event).
 */
export function createSharedSubscribe(options: SharedSubscribeOptions) {
  const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
  const printed = new WeakMap<object, string>();

  const run = async (args: ExecutionArgs, event: unknown): Promise<ExecutionResult> => {
    const result = await execute({ ...args, rootValue: event });
    const extensions = options.extensionsOf?.(event);
    return extensions ? { ...result, extensions: { ...result.extensions, ...extensions } } : result;
  };

  return async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterator(stream)) return stream as ExecutionResult;
    const source = stream;
    let document = printed.get(args.document);
    if (document === undefined) printed.set(args.document, (document = print(args.document)));
    const key = JSON.stringify([document, args.operationName ?? null, args.variableValues ?? {}, options.audienceOf(args)]);
    const resultOf = (event: unknown): Promise<ExecutionResult> => {
      if (typeof event !== 'object' || event === null) return run(args, event);
      let byOperation = results.get(event);
      if (!byOperation) results.set(event, (byOperation = new Map()));
      let result = byOperation.get(key);
      if (!result) byOperation.set(key, (result = run(args, event)));
      return result;
    };
    const mapped: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const item = await source.next();
        return item.done ? item : { done: false, value: await resultOf(item.value) };
      },
      async return() {
        await source.return?.();
        return { done: true, value: undefined };
      },
      async throw(error?: unknown) {
        await source.return?.();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return mapped;
      },
    };
    return mapped;
  };
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> {
  return typeof (value as AsyncIterator<unknown> | null)?.next === 'function';
}
