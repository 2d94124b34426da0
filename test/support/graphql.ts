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

/** Collects the results of one subscription; `next(predicate)` waits for the first that matches. */
export function collect<T extends Record<string, any> = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: ExecutionResult<T>[] = [];
  const waiters: { match: (r: ExecutionResult<T>) => boolean; resolve: (r: ExecutionResult<T>) => void }[] = [];
  let error: unknown;
  let done = false;
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        results.push(result);
        for (const waiter of [...waiters]) {
          if (waiter.match(result)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(result);
          }
        }
      },
      error: (e) => {
        error = e;
      },
      complete: () => {
        done = true;
      },
    },
  );
  return {
    results,
    get error() {
      return error;
    },
    get done() {
      return done;
    },
    unsubscribe,
    next(match: (result: ExecutionResult<T>) => boolean = () => true, timeoutMs = 15_000): Promise<ExecutionResult<T>> {
      const found = results.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching subscription result within ${timeoutMs} ms (got ${JSON.stringify(results)}; error ${String(error)})`)), timeoutMs);
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
