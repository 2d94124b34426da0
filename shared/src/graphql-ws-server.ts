import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { ConnectionInitMessage, ServerOptions } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { WebSocketServer } from 'ws';
import type { Logger } from './logger';

/** What each graphql-ws context carries in `extra`: the socket and the upgrade request. */
export interface WsExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

export interface GraphQLWsSettings {
  logger: Logger;
  /** Production: close reasons say "Internal server error" rather than the error's message. */
  isProduction: boolean;
  /** How often to ping each client; one that does not answer within the same time is dropped. Default 12 s. */
  keepAliveMs?: number;
}

/** WebSocket close reasons are limited to 123 bytes. */
function closeReason(message: string, isProduction: boolean): string {
  if (isProduction) return 'Internal server error';
  return Buffer.byteLength(message) > 123 ? 'Internal server error' : message;
}

/**
 * graphql-ws (`graphql-transport-ws`) on a `ws` server: what graphql-ws's own `useServer` does (subprotocol
 * check, keep-alive pings, close codes), with socket and handler errors in the service's structured log rather
 * than on the console.
 */
export function serveGraphQLWs<P extends ConnectionInitMessage['payload'] = ConnectionInitMessage['payload'], E extends Record<PropertyKey, unknown> = Record<PropertyKey, never>>(
  options: ServerOptions<P, WsExtra & Partial<E>>,
  wsServer: WebSocketServer,
  settings: GraphQLWsSettings,
): { dispose(): Promise<void> } {
  const { logger, isProduction } = settings;
  const keepAliveMs = settings.keepAliveMs ?? 12_000;
  const server = makeServer<P, WsExtra & Partial<E>>(options);
  wsServer.options.handleProtocols = handleProtocols;

  wsServer.once('error', (error: Error) => {
    logger.error({ err: { message: error.message } }, 'The WebSocket server failed; closing its sockets');
    for (const client of wsServer.clients) client.close(CloseCode.InternalServerError, closeReason(error.message, isProduction));
  });

  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws reports a frame it refuses (over the size limit, malformed) here, and closes the socket itself.
    socket.once('error', (error: Error & { code?: string }) => {
      logger.warn({ err: { message: error.message, code: error.code } }, 'WebSocket error; closing the socket');
      socket.close(CloseCode.InternalServerError, closeReason(error.message, isProduction));
    });

    let pongWait: NodeJS.Timeout | undefined;
    const pingInterval =
      keepAliveMs > 0 && Number.isFinite(keepAliveMs)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
            socket.once('pong', () => {
              clearTimeout(pongWait);
              pongWait = undefined;
            });
            socket.ping();
          }, keepAliveMs)
        : undefined;

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data: WebSocket.RawData) => {
            try {
              await handle(String(data));
            } catch (error) {
              logger.error({ err: { message: (error as Error).message } }, 'Handling a graphql-ws message failed; closing the socket');
              socket.close(CloseCode.InternalServerError, closeReason((error as Error).message, isProduction));
            }
          }),
      },
      { socket, request } as WsExtra & Partial<E>,
    );

    socket.once('close', (code: number, reason: Buffer) => {
      clearTimeout(pongWait);
      clearInterval(pingInterval);
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) => wsServer.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
