import { SignJWT, jwtVerify, errors } from 'jose';
import type { Config } from './config';

/** What a verified token says about its bearer. */
export interface Caller {
  userId: string;
  role: string;
  /** When the token stops being valid (ms since the epoch); subscriptions end then. */
  expiresAt?: number;
}

const ALGORITHM = 'HS256';
const CLOCK_TOLERANCE_SECONDS = 5;

function key(config: Config['auth']): Uint8Array {
  return new TextEncoder().encode(config.jwtSecret);
}

/** Signs a token for a user: `sub` is the user id, `role` the GraphQL role, expiring after the configured TTL. */
export async function signToken(caller: Caller, config: Config['auth']): Promise<string> {
  return new SignJWT({ role: caller.role })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(caller.userId)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(`${config.tokenTtlSeconds}s`)
    .sign(key(config));
}

/** The bearer token of an `Authorization` header value, or undefined when there is none. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Verifies a token (algorithm, signature, issuer, audience, expiry). Throws {@link InvalidTokenError}. */
export async function verifyToken(token: string, config: Config['auth']): Promise<Caller> {
  try {
    const { payload } = await jwtVerify(token, key(config), {
      algorithms: [ALGORITHM],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.role !== 'string') throw new InvalidTokenError('the token has no subject or role');
    return { userId: payload.sub, role: payload.role, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof errors.JOSEError) throw new InvalidTokenError(error.code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid');
    throw error;
  }
}

/** The caller of a request from its `Authorization` header: anonymous, verified, or refused with a reason. */
export async function callerFromAuthorization(
  header: string | undefined | null,
  config: Config['auth'],
): Promise<{ caller: Caller | null; tokenError?: string }> {
  if (!header) return { caller: null };
  const token = bearerToken(header);
  if (!token) return { caller: null, tokenError: 'The Authorization header must be "Bearer <token>".' };
  try {
    return { caller: await verifyToken(token, config) };
  } catch (error) {
    if (error instanceof InvalidTokenError) return { caller: null, tokenError: `Sign in again: ${error.message}.` };
    throw error;
  }
}
