import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import type WebSocket from 'ws';

/** A WebSocket's OPEN ready state (ws's constant, without importing ws at run time). */
const OPEN = 1;
/** Bytes a client may leave unread before its subscription ends (it cannot keep up). */
const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Serializes a result once, for {@link DirectSubscription.sendSerialized} to many subscriptions. */
export function serializeResult(result: ExecutionResult | FormattedExecutionResult): string {
  return JSON.stringify(result);
}

/**
 * One graphql-ws subscription whose `next` messages bypass graphql-ws: a hub that shares one result among many
 * subscriptions serializes it once and writes one frame per subscription straight to its socket, instead of
 * having graphql-ws copy, serialize and send it once per subscriber through several promises.
 *
 * graphql-ws still owns the subscription: it reads this iterator, which yields nothing and ends when the hub
 * ends it (`complete()`, or `fail()`, which graphql-ws sends as the subscription's `error`); graphql-ws calls
 * `return()` on a client's `complete` or disconnect, which releases it from the hub.
 */
export class DirectSubscription implements AsyncIterableIterator<never> {
  private ended = false;
  private failure: unknown;
  private returned = false;
  private settle: ((result: IteratorResult<never, undefined>) => void) | undefined;
  private reject: ((error: unknown) => void) | undefined;
  private readonly prefix: string;

  constructor(
    private readonly socket: WebSocket,
    id: string,
    /** Called once when the subscription is over, whoever ended it. */
    private readonly onReturn: () => void,
    private readonly maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Sends a result serialized by {@link serializeResult} as this subscription's `next` message. */
  sendSerialized(payload: string): void {
    if (this.ended || this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.fail(new Error('This client does not read its subscription events fast enough; subscribe again.'));
      this.release();
      return;
    }
    this.socket.send(this.prefix + payload + '}');
  }

  /** Ends with `error` (graphql-ws sends it as an `error` message). */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.reject) this.reject(error);
    else this.failure = error;
    this.settle = this.reject = undefined;
  }

  /** Ends with `complete`. */
  complete(): void {
    if (this.ended) return;
    this.ended = true;
    this.settle?.({ value: undefined, done: true });
    this.settle = this.reject = undefined;
  }

  next(): Promise<IteratorResult<never, undefined>> {
    if (this.ended) {
      if (this.failure === undefined) return Promise.resolve({ value: undefined, done: true });
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    return new Promise((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
  }

  async return(): Promise<IteratorResult<never, undefined>> {
    this.failure = undefined;
    this.complete();
    this.release();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<never, undefined>> {
    await this.return();
    throw error;
  }

  private release(): void {
    if (this.returned) return;
    this.returned = true;
    this.onReturn();
  }
}
