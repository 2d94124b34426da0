/**
 * The register baseline: password hashes by identity's own `hashPassword` (argon2id m = 19456 KiB, t = 2,
 * p = 1, @node-rs/argon2, its memory kept for the next hash), in a process of its own like identity.
 * Message `{ type: 'hash', count, concurrency }` → `{ type: 'hashed', elapsedMs }`.
 */
import { hashPassword } from '@phos/identity/dist/users/password';
import { performance } from 'node:perf_hooks';

process.on('message', async (message: { type?: string; count: number; concurrency: number }) => {
  if (message?.type !== 'hash') return;
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < message.count) {
      next += 1;
      await hashPassword('correct horse battery');
    }
  };
  await Promise.all(Array.from({ length: message.concurrency }, worker));
  process.send!({ type: 'hashed', elapsedMs: performance.now() - start });
});
// The probe unrefs the IPC channel (services stay alive by their servers); this process lives on it.
process.channel?.ref();
process.send!({ type: 'ready' });
