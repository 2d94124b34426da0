/**
 * Bench only, preloaded (`--require`) into an identity process of the register scenario's diagnostic: every
 * password hash it asks for is one stored argon2id hash of the bench's password, made once at start, instead
 * of a new one. Everything else runs as it does in identity, so that process shows what a registration costs
 * but for its hash. Never loaded by the services themselves.
 */
// The allocator's options first, as identity sets them (they are read when the addon loads).
import '@phos/identity/dist/users/hash-memory';

/** The password every bench registration carries (support/system.ts): `login` with it still verifies. */
const BENCH_PASSWORD = 'correct horse battery';

// The module object itself (not an import wrapper), so identity's `hash` calls see the replacement.
const argon2 = require('@node-rs/argon2') as { hash: (password: string, options?: object) => Promise<string> };
const stored = argon2.hash(BENCH_PASSWORD, { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
argon2.hash = () => stored;
