import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitAtMost } from './process';

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

/** The part of a `ws` socket {@link closeWebSockets} needs. */
interface ClosableSocket {
  readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  once(event: 'close', listener: () => void): unknown;
}

const WEBSOCKET_CLOSED = 3;

/**
 * Closes every socket with 1001 (going away) and waits up to `gracePeriodMs` for the closing handshakes; a
 * peer that does not answer is cut off. `ws` would otherwise wait its 30 s close timeout per silent peer,
 * and hold up shutdown that long.
 */
export async function closeWebSockets(clients: Iterable<ClosableSocket>, gracePeriodMs = 1000): Promise<void> {
  const open = [...clients].filter((socket) => socket.readyState !== WEBSOCKET_CLOSED);
  const closed = open.map((socket) => new Promise<void>((resolve) => socket.once('close', resolve)));
  for (const socket of open) socket.close(1001, 'Going away');
  await waitAtMost(Promise.all(closed), gracePeriodMs);
  for (const socket of open) if (socket.readyState !== WEBSOCKET_CLOSED) socket.terminate();
  await Promise.all(closed);
}
