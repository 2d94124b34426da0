import { createClient } from 'graphql-ws';
import type { Client, FormattedExecutionResult } from 'graphql-ws';

type ExecutionResult<T> = FormattedExecutionResult<T, unknown>;
import WebSocket from 'ws';

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
}

/** POSTs one operation; `token` becomes the Authorization header. */
export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: res.status, ...body };
}

/** The `extensions.code` of each error, in order. */
export function codes(response: GraphQLResponse): string[] {
  return (response.errors ?? []).map((error) => error.extensions?.code);
}

let counter = 0;
/** A unique, valid registration input; `overrides` replace fields. */
export function registration(overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    email: `user-${Date.now()}-${process.pid}-${counter}@example.org`,
    password: 'correct horse battery',
    firstName: 'Ada',
    lastName: 'Lovelace',
    ...overrides,
  };
}

export const REGISTER = `mutation Register($input: RegisterInput!) {
  register(input: $input) { token user { id email role firstName lastName registeredAt } }
}`;

/** A graphql-ws client of `url` (http:// is turned into ws://). Close it with `dispose()`. */
export function wsClient(url: string, connectionParams?: Record<string, unknown>): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
  });
}

/**
 * Results as they arrive, and `next(predicate)`: the first result that matches, already there or still to
 * come. `describe` adds what is known to the timeout's message.
 */
export function resultsCollector<R>(describe: () => string = () => '') {
  const results: R[] = [];
  const waiters: { match: (r: R) => boolean; resolve: (r: R) => void }[] = [];
  return {
    results,
    push(result: R): void {
      results.push(result);
      for (const waiter of [...waiters]) {
        if (waiter.match(result)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(result);
        }
      }
    },
    next(match: (result: R) => boolean = () => true, timeoutMs = 15_000): Promise<R> {
      const found = results.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching subscription result within ${timeoutMs} ms (got ${JSON.stringify(results)}${describe()})`)), timeoutMs);
        waiters.push({
          match,
          resolve: (result) => {
            clearTimeout(timer);
            resolve(result);
          },
        });
      });
    },
  };
}

/** Collects the results of one subscription; `next(predicate)` waits for the first that matches. */
export function collect<T extends Record<string, any> = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  let error: unknown;
  let done = false;
  const collector = resultsCollector<ExecutionResult<T>>(() => `; error ${String(error)}`);
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => collector.push(result),
      error: (e) => {
        error = e;
      },
      complete: () => {
        done = true;
      },
    },
  );
  return {
    results: collector.results,
    get error() {
      return error;
    },
    get done() {
      return done;
    },
    unsubscribe,
    next: collector.next,
  };
}
