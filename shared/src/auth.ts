import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, errors, exportJWK, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import type { Config } from './config';

/** What a verified token says about its bearer. */
export interface Caller {
  userId: string;
  role: string;
  /** When the token stops being valid (ms since the epoch); subscriptions end then. */
  expiresAt?: number;
}

/** The one algorithm tokens use: EdDSA (Ed25519). Anything else, `none` and HS256 included, is refused. */
export const TOKEN_ALGORITHM = 'EdDSA';
const CLOCK_TOLERANCE_SECONDS = 5;

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Signs tokens with identity's private key and publishes the public half as a JWKS. Identity only. */
export interface TokenSigner {
  sign(caller: Caller): Promise<string>;
  /** `GET /.well-known/jwks.json`: the public keys tokens are verified with. */
  jwks(): JSONWebKeySet;
}

/** Verifies tokens: algorithm, signature, issuer, audience, expiry. */
export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}

export async function createTokenSigner(auth: Config['auth'], privateKeyPem: string): Promise<TokenSigner> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new InvalidTokenError('JWT_PRIVATE_KEY is not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new InvalidTokenError('JWT_PRIVATE_KEY must be an Ed25519 key');
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  const keys: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: TOKEN_ALGORITHM, use: 'sig' }] };
  return {
    sign: (caller) =>
      new SignJWT({ role: caller.role })
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT', kid })
        .setSubject(caller.userId)
        .setIssuer(auth.issuer)
        .setAudience(auth.audience)
        .setIssuedAt()
        .setExpirationTime(`${auth.tokenTtlSeconds}s`)
        .sign(privateKey),
    jwks: () => keys,
  };
}

/** How long a token, once verified, is taken without checking its signature again (never past its expiry). */
export const VERIFIED_TOKEN_REUSE_MS = 60_000;
/** How many verified tokens are remembered; past that, the oldest is forgotten. */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * A verifier over a key set: identity's own (local), or fetched from its JWKS URL (patients, the gateway).
 * The remote set is cached and fetched again when a token names an unknown `kid` (at most every 30 s).
 *
 * A client sends the same token with every request, so a token that verified is remembered for
 * {@link VERIFIED_TOKEN_REUSE_MS} (well inside the ten minutes the key set itself is cached) and never past its
 * own expiry: the signature check, a tenth of a subgraph's CPU on a query, is done once a minute per token.
 * Only successes are remembered, keyed by the whole token, signature included.
 */
export function createTokenVerifier(auth: Config['auth'], keys: JSONWebKeySet | URL, now: () => number = Date.now): TokenVerifier {
  const getKey: JWTVerifyGetKey = keys instanceof URL ? createRemoteJWKSet(keys, { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 3000 }) : createLocalJWKSet(keys);
  const verified = new Map<string, { caller: Caller; until: number }>();
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known && known.until > now()) return known.caller;
      if (known) verified.delete(token);
      const caller = Object.freeze(await verifySignature(token));
      // Expired is judged as `jwtVerify` does, with the clock tolerance.
      const until = Math.min(now() + VERIFIED_TOKEN_REUSE_MS, (caller.expiresAt ?? 0) + CLOCK_TOLERANCE_SECONDS * 1000);
      if (until > now()) {
        if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value as string);
        verified.set(token, { caller, until });
      }
      return caller;
    },
  };

  async function verifySignature(token: string): Promise<Caller> {
    try {
      const { payload } = await jwtVerify(token, getKey, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: auth.issuer,
        audience: auth.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(now()),
      });
      if (typeof payload.sub !== 'string' || typeof payload.role !== 'string') throw new InvalidTokenError('the token has no subject or role');
      return { userId: payload.sub, role: payload.role, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      // Key-set fetch failures are outages, not bad tokens: they surface as internal errors.
      if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) throw error;
      if (error instanceof errors.JOSEError) throw new InvalidTokenError(error.code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid');
      throw error;
    }
  }
}

/** The bearer token of an `Authorization` header value, or undefined when there is none. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** The caller of a request from its `Authorization` header: anonymous, verified, or refused with a reason. */
export async function callerFromAuthorization(header: string | undefined | null, verifier: TokenVerifier): Promise<{ caller: Caller | null; tokenError?: string }> {
  if (!header) return { caller: null };
  const token = bearerToken(header);
  if (!token) return { caller: null, tokenError: 'The Authorization header must be "Bearer <token>".' };
  try {
    return { caller: await verifier.verify(token) };
  } catch (error) {
    if (error instanceof InvalidTokenError) return { caller: null, tokenError: `Sign in again: ${error.message}.` };
    throw error;
  }
}
