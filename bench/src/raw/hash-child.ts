/**
 * The register baseline: password hashes with identity's parameters (argon2id m = 19456 KiB, t = 2, p = 1,
 * @node-rs/argon2, as subgraphs/identity/src/users/password.ts), in a process of its own like identity.
 * Message `{ type: 'hash', count, concurrency }` → `{ type: 'hashed', elapsedMs }`.
 */
// Hashes keep their memory for the next, exactly as in identity (before the addon loads).
import '@phos/identity/dist/users/hash-memory';
import { hash } from '@node-rs/argon2';
import { performance } from 'node:perf_hooks';

const PARAMETERS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

process.on('message', async (message: { type?: string; count: number; concurrency: number }) => {
  if (message?.type !== 'hash') return;
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < message.count) {
      next += 1;
      await hash('correct horse battery', PARAMETERS);
    }
  };
  await Promise.all(Array.from({ length: message.concurrency }, worker));
  process.send!({ type: 'hashed', elapsedMs: performance.now() - start });
});
// The probe unrefs the IPC channel (services stay alive by their servers); this process lives on it.
process.channel?.ref();
process.send!({ type: 'ready' });
