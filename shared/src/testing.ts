import { createServer } from 'node:net';

/*
 * Helpers for the project's tests and its bench (`@phos/shared/testing`); no service imports them.
 */

/** Ports handed out by this process: two callers never get the same one. */
const handedOut = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 now, for a server started later (and perhaps restarted on it). It is drawn
 * below the ephemeral range (32768 and up on Linux, 49152 and up elsewhere), where the kernel picks the local
 * ports of outgoing connections: a port from `listen(0)` lies in that range, and a connection of another
 * service to Redis or PostgreSQL could take it before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
