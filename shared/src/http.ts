import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server whose keep-alive outlasts common proxies' idle timeouts, so they never reuse a closed socket. */
export function createHttpServer(handler?: RequestListener): Server {
  const server = createServer(handler);
  server.keepAliveTimeout = 65_000;
  return server;
}

/** Listens on `port` (0 picks a free one) on every interface; resolves with the port it got. */
export function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections, lets in-flight requests finish for up to `gracePeriodMs`, then closes the rest. */
export function closeServer(server: Server, gracePeriodMs = 10_000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), gracePeriodMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
