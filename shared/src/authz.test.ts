import { endAtExpiry } from './authz';

/** An async iterator over `values`, then done. */
function source<T>(values: T[]): AsyncIterableIterator<T> {
  const queue = [...values];
  const iterator: AsyncIterableIterator<T> = {
    next: async () => (queue.length ? { value: queue.shift()!, done: false } : { value: undefined, done: true }),
    return: async () => ({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

describe('endAtExpiry', () => {
  afterEach(() => jest.useRealTimers());

  test('ends the subscription with UNAUTHENTICATED when the token expires', async () => {
    jest.useFakeTimers();
    const never: AsyncIterableIterator<number> = { next: () => new Promise(() => undefined), return: async () => ({ value: undefined, done: true }), [Symbol.asyncIterator]: () => never };
    const reading = endAtExpiry(never, Date.now() + 60_000).next();
    jest.advanceTimersByTime(60_000);
    await expect(reading).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  test('leaves no timer behind when the source ends by itself before the expiry', async () => {
    jest.useFakeTimers();
    const wrapped = endAtExpiry(source([1]), Date.now() + 15 * 60_000);
    expect(jest.getTimerCount()).toBe(1);
    expect(await wrapped.next()).toEqual({ value: 1, done: false });
    expect(await wrapped.next()).toEqual({ value: undefined, done: true });
    expect(jest.getTimerCount()).toBe(0);
  });
});
