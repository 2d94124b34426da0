/**
 * The events of one client subscription, as the async iterator graphql-ws reads: the hub pushes, graphql-ws
 * pulls. graphql-ws calls `return()` on client `complete` or disconnect (as for a generator); that ends it and
 * calls `onReturn` once, to release what it holds upstream.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: ((result: IteratorResult<T, undefined>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private failure: unknown;
  private ended = false;
  private returned = false;

  constructor(
    private readonly onReturn: () => void,
    /** Events held for a slow reader before it is ended with an error (its socket cannot keep up). */
    private readonly maxBuffered = 1000,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Queues an event, or hands it to a waiting reader. */
  push(value: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      resolve({ value, done: false });
    } else if (this.buffered.length >= this.maxBuffered) {
      this.fail(new Error(`More than ${this.maxBuffered} events are waiting for this client; subscribe again.`));
      this.release();
    } else {
      this.buffered.push(value);
    }
  }

  /** Ends after the queued events with `error` (graphql-ws turns it into an `error` message). */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.failWaiting) {
      const reject = this.failWaiting;
      this.clearWaiting();
      reject(error);
    }
  }

  /** Ends after the queued events, with `complete`. */
  complete(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.buffered.length > 0) return Promise.resolve({ value: this.buffered.shift() as T, done: false });
    if (this.ended) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.buffered.length = 0;
    this.failure = undefined;
    this.complete();
    this.release();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<T, undefined>> {
    await this.return();
    throw error;
  }

  private release(): void {
    if (this.returned) return;
    this.returned = true;
    this.onReturn();
  }

  private clearWaiting(): void {
    this.waiting = undefined;
    this.failWaiting = undefined;
  }
}
