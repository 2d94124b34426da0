// Must come first: it sets the hash allocator's options, which are read when the addon loads.
import './hash-memory';
import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with OWASP's minimum parameters (m = 19 MiB, t = 2, p = 1). Hashing runs on libuv's thread
 * pool, never on the event loop, and the memory of one hash is kept for the next (see hash-memory.ts).
 */
// `Algorithm` is an ambient const enum, which isolated-module compilers cannot read: 2 is Argon2id.
const ARGON2ID = 2;
const PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMETERS);
}

export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return verify(passwordHash, password).catch(() => false);
}

// A hash of a random password, made once: `login` for an unknown email verifies against it, so the answer
// takes as long as for a known email with a wrong password.
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(`decoy-${Math.random()}-${Date.now()}`);
  return decoy;
}
