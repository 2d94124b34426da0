import type { IncomingMessage, ServerResponse } from 'node:http';

/** A named dependency check: resolves when the dependency answers. */
export type HealthChecks = Record<string, () => Promise<unknown>>;

const CHECK_TIMEOUT_MS = 2000;

function withTimeout(check: () => Promise<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
    check().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/** `GET /healthz`: 200 while the process is up. */
export function healthzHandler(_req: IncomingMessage, res: ServerResponse): void {
  send(res, 200, { status: 'ok' });
}

/**
 * `GET /readyz`: 200 when every check passes, else 503 with `down` naming the dependencies that did not
 * answer, e.g. `{ "status": "unavailable", "down": ["redis"], "checks": { "database": "up", "redis": "down" } }`.
 * `details`, when given, adds information (consumer lag, outbox backlog) that does not decide readiness.
 */
export function readyzHandler(checks: HealthChecks, details?: () => Promise<Record<string, unknown>>): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const names = Object.keys(checks);
    const extra = details ? withTimeout(details).catch(() => undefined) : Promise.resolve(undefined);
    Promise.all([Promise.allSettled(names.map((name) => withTimeout(checks[name]))), extra]).then(([results, more]) => {
      const status: Record<string, 'up' | 'down'> = {};
      const down: string[] = [];
      results.forEach((result, i) => {
        status[names[i]] = result.status === 'fulfilled' ? 'up' : 'down';
        if (result.status === 'rejected') down.push(names[i]);
      });
      const body = down.length ? { status: 'unavailable', down, checks: status } : { status: 'ok', checks: status };
      send(res, down.length ? 503 : 200, more ? { ...body, ...more } : body);
    });
  };
}
