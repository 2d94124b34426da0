import WebSocket from 'ws';
import { now } from './load';

/**
 * Minimal graphql-ws (`graphql-transport-ws`) subscribers: `connection_init`, wait for the ack, one
 * `subscribe` with id "1". Far cheaper per socket than the graphql-ws client, so thousands of them fit in the
 * bench process without it becoming the bottleneck.
 */
export interface Subscribers {
  readonly sockets: WebSocket[];
  /** Closes every socket and waits until each has closed. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  url: string;
  count: number;
  query: string;
  authorization?: string;
  /** Called with the subscriber index, the raw `next` frame and its arrival time. */
  onNext?: (index: number, frame: string, at: number) => void;
  /** Sockets opened at once. */
  batch?: number;
}

function openOne(options: SubscribeOptions, index: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(options.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`subscriber ${index}: no connection_ack within 15 s`));
    }, 15_000);
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: options.authorization ? { authorization: options.authorization } : {} }));
    });
    socket.on('message', (data: WebSocket.RawData) => {
      const at = now();
      const frame = data.toString();
      if (frame.startsWith('{"type":"connection_ack"') || frame.includes('"connection_ack"')) {
        if (frame.includes('"next"')) return; // never: an ack carries no next
        clearTimeout(timer);
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: options.query } }));
        resolve(socket);
        return;
      }
      if (frame.includes('"type":"ping"')) {
        socket.send('{"type":"pong"}');
        return;
      }
      options.onNext?.(index, frame, at);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function openSubscribers(options: SubscribeOptions): Promise<Subscribers> {
  const sockets: WebSocket[] = [];
  const batch = options.batch ?? 200;
  const close = async () => {
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((done) => {
            if (socket.readyState === WebSocket.CLOSED) return done();
            socket.once('close', () => done());
            socket.close(1000);
            setTimeout(() => {
              socket.terminate();
              done();
            }, 5000).unref();
          }),
      ),
    );
  };
  try {
    for (let start = 0; start < options.count; start += batch) {
      const opened = await Promise.all(Array.from({ length: Math.min(batch, options.count - start) }, (_, i) => openOne(options, start + i)));
      sockets.push(...opened);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { sockets, close };
}
