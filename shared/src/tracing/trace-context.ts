import { randomFillSync } from 'node:crypto';

/** A W3C trace context (https://www.w3.org/TR/trace-context/): the trace, the parent span, the flags. */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the span that is the parent of the next hop. */
  readonly spanId: string;
  /** 2 hex digits; `01` is sampled. */
  readonly flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Reads a `traceparent` header or metadata value. Anything that is not a valid W3C value (version `ff`,
 * all-zero ids, version 00 with trailing data) is undefined: the receiver then starts a trace of its own.
 */
export function parseTraceparent(value: string | string[] | undefined | null): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags}`;
}

// Ids are cut from a pool of random bytes filled 4 KB at a time: one call into the random source per 170
// spans or so, instead of one per id (a few per cent of the gateway's CPU per request).
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

/** A random trace id (16 bytes, hex); all zeros, which W3C Trace Context forbids, is drawn again. */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO_TRACE ? newTraceId() : id;
}
/** A random span id (8 bytes, hex), never all zeros. */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}
