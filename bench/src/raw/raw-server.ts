/**
 * The raw baselines of the live scenarios, in a process of their own (measured by the probe like a service):
 * - a plain `ws` server that speaks just enough graphql-ws (`connection_ack`; remembers `subscribe`d sockets)
 *   and broadcasts every message of the Redis channel `RAW_CHANNEL` to them as one `next` frame, built once;
 * - with `RAW_PG_URL` set, a raw pipeline in front of it: XREADGROUP on `RAW_STREAM` → INSERT into
 *   `bench_patients` → PUBLISH on `RAW_CHANNEL` → XACK, one entry at a time (as the patients consumer does);
 *   and `POST /register` (JSON `{ email, password }`): an argon2id hash with identity's parameters, then the
 *   XADD, then the answer; the raw pipeline with a registration's unavoidable cost in front.
 */
// identity's own hash: the same parameters, its memory kept for the next hash.
import { hashPassword } from '@phos/identity/dist/users/password';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import WebSocket, { WebSocketServer } from 'ws';

const port = Number(process.env.RAW_PORT);
const redisUrl = process.env.RAW_REDIS_URL!;
const channel = process.env.RAW_CHANNEL ?? 'bench:raw:created';
const stream = process.env.RAW_STREAM ?? 'bench:raw:events';
const pgUrl = process.env.RAW_PG_URL;

async function main() {
  const subscribed = new Set<WebSocket>();
  let register: ((input: { email: string; password: string }) => Promise<void>) | undefined;
  const http = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/register' || !register) return void response.writeHead(404).end();
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      register!(JSON.parse(body) as { email: string; password: string }).then(
        () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
        (error: unknown) => response.writeHead(500).end((error as Error).message),
      );
    });
  });
  const server = new WebSocketServer({ server: http, perMessageDeflate: false });
  server.on('connection', (socket) => {
    socket.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { type: string; id?: string };
      if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
      else if (message.type === 'subscribe') subscribed.add(socket);
      else if (message.type === 'complete') subscribed.delete(socket);
      else if (message.type === 'ping') socket.send('{"type":"pong"}');
    });
    socket.on('close', () => subscribed.delete(socket));
  });
  await new Promise<void>((ready) => http.listen(port, '127.0.0.1', () => ready()));

  const subscriber = new Redis(redisUrl);
  subscriber.on('message', (_channel: string, body: string) => {
    const frame = Buffer.from(`{"id":"1","type":"next","payload":{"data":{"patientCreated":${body}}}}`);
    for (const socket of subscribed) socket.send(frame);
  });
  await subscriber.subscribe(channel);

  if (pgUrl) {
    const commands = new Redis(redisUrl);
    const reader = new Redis(redisUrl);
    const pg = new Client({ connectionString: pgUrl });
    await pg.connect();
    await pg.query('CREATE TABLE IF NOT EXISTS bench_patients (LIKE patients INCLUDING ALL)');
    await commands.xgroup('CREATE', stream, 'raw', '$', 'MKSTREAM').catch(() => undefined);
    register = async ({ email, password }) => {
      await hashPassword(password);
      const body = JSON.stringify({ id: randomUUID(), data: { userId: randomUUID(), email, firstName: 'Live', lastName: 'Latency' } });
      await commands.xadd(stream, '*', 'id', randomUUID(), 'type', 'UserRegistered', 'body', body);
    };
    const loop = async () => {
      for (;;) {
        const result = (await reader.xreadgroup('GROUP', 'raw', 'raw-1', 'COUNT', 50, 'BLOCK', 1000, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
        for (const [, entries] of result ?? []) {
          for (const [id, flat] of entries) {
            const body = JSON.parse(flat[flat.indexOf('body') + 1]) as { data: { userId: string; email: string; firstName: string; lastName: string } };
            const patient = { id: randomUUID(), userId: body.data.userId, email: body.data.email, firstName: body.data.firstName, lastName: body.data.lastName, createdAt: new Date().toISOString() };
            await pg.query('INSERT INTO bench_patients (id, user_id, email, first_name, last_name, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
              patient.id,
              patient.userId,
              patient.email,
              patient.firstName,
              patient.lastName,
              patient.createdAt,
            ]);
            await commands.publish(channel, JSON.stringify(patient));
            await commands.xack(stream, 'raw', id);
          }
        }
      }
    };
    loop().catch((error: unknown) => {
      console.error(`raw pipeline failed: ${(error as Error).message}`);
      process.exit(1);
    });
  }
  process.on('SIGTERM', () => process.exit(0));
  process.send!({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
