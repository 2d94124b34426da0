import { createServer } from 'node:net';
import { freePort } from './testing';

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range that a server can bind', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32_768);
    }
    const server = createServer();
    await new Promise<void>((listening) => server.listen(ports[0], '127.0.0.1', listening));
    await new Promise((closed) => server.close(closed));
  });

  it('passes over a port some server already listens on', async () => {
    // A port of the range this process has not handed out, taken by a server of the test's own.
    const server = createServer();
    let taken = 31_000;
    for (;; taken++) {
      const bound = await new Promise<boolean>((done) => {
        server.once('error', () => done(false));
        server.listen(taken, '127.0.0.1', () => done(true));
      });
      if (bound) break;
    }
    try {
      const random = jest.spyOn(Math, 'random');
      // The first draw names the taken port, the second another.
      random.mockReturnValueOnce((taken - 20_000 + 0.5) / 12_000).mockReturnValueOnce(0.25);
      const port = await freePort();
      const draws = random.mock.calls.length;
      random.mockRestore();
      // It drew the taken port, tried it, and drew again.
      expect(draws).toBeGreaterThanOrEqual(2);
      expect(port).not.toBe(taken);
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});
