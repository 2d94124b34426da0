/**
 * Bench only, preloaded (`--require`) into an identity process of the register scenario's diagnostic: every
 * password hash it asks for is one stored argon2id hash of the bench's password, made once at start, instead
 * of a new one. Everything else runs as it does in identity, so that process shows what a registration costs
 * but for its hash. Never loaded by the services themselves.
 */
// identity's own hash module (which sets the allocator's options before the addon loads).
import { hashPassword } from '@phos/identity/dist/users/password';

/** The password every bench registration carries (support/system.ts): `login` with it still verifies. */
const BENCH_PASSWORD = 'correct horse battery';

// The module object itself (not an import wrapper), so identity's `hash` calls see the replacement.
const argon2 = require('@node-rs/argon2') as { hash: (password: string, options?: object) => Promise<string> };
// Made by the real hash, with identity's parameters, before the replacement below.
const stored = hashPassword(BENCH_PASSWORD);
argon2.hash = () => stored;
