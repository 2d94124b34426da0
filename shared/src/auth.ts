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

/**
 * A verifier over a key set: identity's own (local), or fetched from its JWKS URL (patients, the gateway).
 * The remote set is cached and fetched again when a token names an unknown `kid` (at most every 30 s).
 */
export function createTokenVerifier(auth: Config['auth'], keys: JSONWebKeySet | URL): TokenVerifier {
  const getKey: JWTVerifyGetKey = keys instanceof URL ? createRemoteJWKSet(keys, { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 3000 }) : createLocalJWKSet(keys);
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, getKey, {
          algorithms: [TOKEN_ALGORITHM],
          issuer: auth.issuer,
          audience: auth.audience,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['sub', 'exp', 'iat'],
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
    },
  };
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
