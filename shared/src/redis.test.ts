import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { createLogger } from './logger';
import { StartupError } from './process';
import { connectRedis, redisVersionOf } from './redis';

const silent = createLogger('test', 'silent');

/**
 * A server that speaks just enough of Redis's protocol for a client to connect, and says it is `version`: Redis
 * 6 cannot be installed beside the machine's Redis 7, and the check under test is the services' own.
 */
async function fakeRedis(version: string): Promise<{ url: string; server: Server }> {
  const server = createServer((socket) => {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      // Commands arrive as arrays of bulk strings: *<n>\r\n($<len>\r\n<arg>\r\n){n}
      for (;;) {
        const match = /^\*(\d+)\r\n/.exec(buffered);
        if (!match) return;
        let offset = match[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(match[1]); i++) {
          const header = /^\$(\d+)\r\n/.exec(buffered.slice(offset));
          if (!header || buffered.length < offset + header[0].length + Number(header[1]) + 2) return;
          args.push(buffered.slice(offset + header[0].length, offset + header[0].length + Number(header[1])));
          offset += header[0].length + Number(header[1]) + 2;
        }
        buffered = buffered.slice(offset);
        const info = `# Server\r\nredis_version:${version}\r\nloading:0\r\n`;
        socket.write(args[0]?.toLowerCase() === 'info' ? `$${Buffer.byteLength(info)}\r\n${info}\r\n` : '+OK\r\n');
      }
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', () => listening()));
  return { url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('connectRedis and the version of Redis', () => {
  test('reads the version from INFO server', () => {
    expect(redisVersionOf('# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n')).toBe('7.0.15');
    expect(redisVersionOf('# Server\r\nvalkey_version:8.0.1\r\n')).toBeUndefined();
  });

  test('refuses a Redis older than 7.0 at start-up, naming REDIS_URL and the version', async () => {
    const { url, server } = await fakeRedis('6.2.14');
    try {
      const connecting = connectRedis(url, 'test', silent, { subscriber: true });
      await expect(connecting).rejects.toThrow(StartupError);
      await expect(connecting).rejects.toThrow(`Redis at REDIS_URL=${url} is version 6.2.14; the services need Redis 7.0 or newer.`);
    } finally {
      server.close();
    }
  });

  test('takes 7.0 and newer', async () => {
    const { url, server } = await fakeRedis('7.2.4');
    try {
      const redis = await connectRedis(url, 'test', silent);
      redis.publisher.disconnect();
    } finally {
      server.close();
    }
  });
});
