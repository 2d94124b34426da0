/** A message that may carry the `traceparent` of the work that produced it. */
export interface TracedMessage {
  traceparent?: string;
}

/**
 * Passes `source` through, writing the `traceparent` of the message last pulled onto `holder`. graphql-js
 * pulls one message and finishes its result before it pulls the next, so while a result is being sent,
 * `holder.traceparent` is that result's (graphql-ws `onNext` reads it into the result's `extensions`).
 */
export function noteTraceparents<T extends TracedMessage>(source: AsyncIterator<T>, holder: TracedMessage): AsyncIterableIterator<T> {
  return {
    async next() {
      const result = await source.next();
      if (!result.done) holder.traceparent = result.value.traceparent;
      return result;
    },
    return: (value?: unknown) => source.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
    throw: (error?: unknown) => source.throw?.(error) ?? Promise.reject(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
