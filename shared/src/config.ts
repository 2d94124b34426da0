import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { proxyTrust } from './client-address';

/** Attempts allowed per window. */
export interface RateLimitRule {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** Where a service keeps its data: an embedded SQLite file, or a PostgreSQL server. */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

export interface Config {
  /** `NODE_ENV`: `development` (default), `test` or `production`. */
  readonly nodeEnv: 'development' | 'test' | 'production';
  readonly isProduction: boolean;
  /** `LOG_LEVEL`, default `info`. */
  readonly logLevel: string;
  /** `REDIS_URL`, default `redis://127.0.0.1:6379`. */
  readonly redisUrl: string;
  /** `DATA_DIR`, default `.data/` at the project root: SQLite files and development secrets. */
  readonly dataDir: string;
  readonly gateway: {
    /** `GATEWAY_PORT`, default 4000. */
    readonly port: number;
    /** `SUPERGRAPH_PATH`, default `schema/supergraph.graphql`. */
    readonly supergraphPath: string;
    /** `IDENTITY_URL` / `PATIENTS_URL`: override the subgraph URLs written in the supergraph. */
    readonly subgraphUrls: Readonly<Record<string, string>>;
    /**
     * `SUBSCRIPTION_UPSTREAM_TIMEOUT_MS`, default 30000 (30 s): how long the gateway keeps reconnecting, with
     * backoff, to a subgraph whose subscription WebSocket dropped. Clients' subscriptions carry on if it comes
     * back in time; otherwise each ends with a graphql-ws `error` that names the subgraph.
     */
    readonly subscriptionUpstreamTimeoutMs: number;
    /** `WS_ALLOWED_ORIGINS`, comma-separated: browsers from other origins cannot open a WebSocket. Unset allows any. */
    readonly allowedOrigins: readonly string[];
    /**
     * `TRUST_PROXY`, default `loopback`: the proxies in front of the gateway whose `X-Forwarded-For` gives the
     * client's address (for rate limits and logs), in Express's `trust proxy` words: `loopback`, `uniquelocal`,
     * `10.0.0.0/8`, an address, a comma-separated list of them.
     */
    readonly trustProxy: string;
  };
  readonly identity: {
    /** `IDENTITY_PORT`, default 4001. */
    readonly port: number;
    /** `IDENTITY_DATABASE_URL`, default `.data/identity.sqlite`. */
    readonly database: DatabaseConfig;
    /** `BOOTSTRAP_ADMIN_EMAIL` and `BOOTSTRAP_ADMIN_PASSWORD`, both or neither. */
    readonly bootstrapAdmin?: { readonly email: string; readonly password: string };
    /** `OUTBOX_POLL_INTERVAL_MS`, default 1000: how often the relay looks for events left unpublished. */
    readonly outboxPollIntervalMs: number;
    /**
     * `FAULT_KILL_BEFORE_PUBLISH=1` (fault injection for tests, off by default): identity SIGKILLs itself right
     * after a registration commits, before its event is published. Refused in production.
     */
    readonly faultKillBeforePublish: boolean;
    /**
     * Attempts allowed, counted in Redis across replicas: `RATE_LIMIT_LOGIN_PER_IP` (default 30 a minute),
     * `RATE_LIMIT_LOGIN_PER_ACCOUNT` (10 per 15 minutes), `RATE_LIMIT_REGISTER_PER_IP` (20 per 10 minutes),
     * `RATE_LIMIT_REGISTER_PER_ACCOUNT` (5 an hour).
     */
    readonly rateLimits: {
      readonly loginPerIp: RateLimitRule;
      readonly loginPerAccount: RateLimitRule;
      readonly registerPerIp: RateLimitRule;
      readonly registerPerAccount: RateLimitRule;
    };
  };
  readonly patients: {
    /** `PATIENTS_PORT`, default 4002. */
    readonly port: number;
    /** `PATIENTS_DATABASE_URL`, default `.data/patients.sqlite`. */
    readonly database: DatabaseConfig;
    /** `EVENTS_MAX_DELIVERIES`, default 5: deliveries of a failing event before it is dead-lettered. */
    readonly maxDeliveries: number;
    /** `EVENTS_CLAIM_IDLE_MS`, default 30000: how long an event may stay with a silent consumer before another claims it. */
    readonly claimIdleMs: number;
    /** `EVENTS_RETRY_BASE_MS`, default 100: the first retry delay of a failing event; it doubles, with jitter, up to 5 s. */
    readonly retryBaseMs: number;
  };
  readonly auth: {
    /**
     * `JWT_PRIVATE_KEY`: identity's Ed25519 signing key, PKCS#8 PEM (`\n` may stand for line breaks).
     * Required by identity in production; in development one is generated once into `.data/jwt-ed25519.pem`.
     */
    readonly privateKeyPem?: string;
    /**
     * `IDENTITY_JWKS_URL`: where patients and the gateway fetch identity's public keys. Default: the
     * `/.well-known/jwks.json` of `IDENTITY_URL`'s origin, else `http://127.0.0.1:<IDENTITY_PORT>`.
     */
    readonly jwksUrl: string;
    /** `JWT_ISSUER`, default `phos-identity`. */
    readonly issuer: string;
    /** `JWT_AUDIENCE`, default `phos`. */
    readonly audience: string;
    /** `TOKEN_TTL_SECONDS`, default 900 (15 minutes). */
    readonly tokenTtlSeconds: number;
  };
}

/** A configuration value that cannot be used; its message is one line that says what to set. */
/** `TRUST_PROXY`, checked: a list of addresses, networks or Express's names for them. */
function trustProxySetting(env: NodeJS.ProcessEnv): string {
  const raw = env.TRUST_PROXY?.trim() || 'loopback';
  try {
    proxyTrust(raw);
  } catch (error) {
    throw new ConfigError(`TRUST_PROXY must list addresses, networks (10.0.0.0/8) or loopback, linklocal, uniquelocal, got "${raw}" (${(error as Error).message})`);
  }
  return raw;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The project root: `shared/dist/config.js` and `shared/src/config.ts` both sit two levels below it. */
export const projectRoot = resolve(__dirname, '..', '..');

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return value;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`${name} must be a positive whole number, got "${raw}"`);
  return value;
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${parsed.protocol}//…"`);
  }
  return raw;
}

/** `postgres://…` selects PostgreSQL; a file path (or `sqlite:path`) selects embedded SQLite. */
export function parseDatabaseUrl(name: string, raw: string | undefined, fallbackFile: string, dataDir: string): DatabaseConfig {
  if (raw === undefined || raw === '') return { kind: 'sqlite', path: join(dataDir, fallbackFile) };
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError(`${name} is not a valid postgres:// URL`);
    }
    return { kind: 'postgres', url: raw };
  }
  const path = raw.replace(/^(sqlite|file):(\/\/)?/, '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && path === raw) {
    throw new ConfigError(`${name} must be postgres://… or a SQLite file path, got "${raw.split(':')[0]}://…"`);
  }
  if (path === '') throw new ConfigError(`${name} names no SQLite file`);
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(projectRoot, path) };
}

function faultKillBeforePublish(env: NodeJS.ProcessEnv, isProduction: boolean): boolean {
  const raw = env.FAULT_KILL_BEFORE_PUBLISH;
  if (raw === undefined || raw === '' || raw === '0') return false;
  if (raw !== '1') throw new ConfigError(`FAULT_KILL_BEFORE_PUBLISH must be 1 or 0, got "${raw}"`);
  if (isProduction) throw new ConfigError('FAULT_KILL_BEFORE_PUBLISH is a test switch and is refused in production');
  return true;
}

function developmentKey(dataDir: string): string {
  const file = join(dataDir, 'jwt-ed25519.pem');
  mkdirSync(dataDir, { recursive: true });
  try {
    const { privateKey } = generateKeyPairSync('ed25519');
    // `wx` fails when another service of this checkout wrote it first; then read theirs.
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(file, 'utf8');
}

/**
 * Reads and validates the whole configuration once. Throws {@link ConfigError} with a one-line message on
 * the first bad value; entry points print it and exit 1.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const nodeEnv = env.NODE_ENV === undefined || env.NODE_ENV === '' ? 'development' : env.NODE_ENV;
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${nodeEnv}"`);
  }
  const isProduction = nodeEnv === 'production';
  const dataDir = resolve(projectRoot, env.DATA_DIR || '.data');

  const bootstrapEmail = env.BOOTSTRAP_ADMIN_EMAIL || undefined;
  const bootstrapPassword = env.BOOTSTRAP_ADMIN_PASSWORD || undefined;
  if ((bootstrapEmail === undefined) !== (bootstrapPassword === undefined)) {
    throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD must be set together, or neither');
  }

  const privateKeyPem = env.JWT_PRIVATE_KEY ? env.JWT_PRIVATE_KEY.replace(/\\n/g, '\n') : isProduction ? undefined : developmentKey(dataDir);

  const subgraphUrls: Record<string, string> = {};
  const identityUrl = url(env, 'IDENTITY_URL', ['http:', 'https:']);
  const patientsUrl = url(env, 'PATIENTS_URL', ['http:', 'https:']);
  if (identityUrl) subgraphUrls.identity = identityUrl;
  if (patientsUrl) subgraphUrls.patients = patientsUrl;

  const config: Config = {
    nodeEnv,
    isProduction,
    logLevel: env.LOG_LEVEL || 'info',
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    dataDir,
    gateway: {
      port: port(env, 'GATEWAY_PORT', 4000),
      supergraphPath: resolve(projectRoot, env.SUPERGRAPH_PATH || 'schema/supergraph.graphql'),
      subgraphUrls: Object.freeze(subgraphUrls),
      subscriptionUpstreamTimeoutMs: positiveInt(env, 'SUBSCRIPTION_UPSTREAM_TIMEOUT_MS', 30_000),
      allowedOrigins: (env.WS_ALLOWED_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
      trustProxy: trustProxySetting(env),
    },
    identity: {
      port: port(env, 'IDENTITY_PORT', 4001),
      database: parseDatabaseUrl('IDENTITY_DATABASE_URL', env.IDENTITY_DATABASE_URL, 'identity.sqlite', dataDir),
      bootstrapAdmin: bootstrapEmail && bootstrapPassword ? { email: bootstrapEmail, password: bootstrapPassword } : undefined,
      outboxPollIntervalMs: positiveInt(env, 'OUTBOX_POLL_INTERVAL_MS', 1000),
      faultKillBeforePublish: faultKillBeforePublish(env, isProduction),
      rateLimits: {
        loginPerIp: { limit: positiveInt(env, 'RATE_LIMIT_LOGIN_PER_IP', 30), windowSeconds: 60 },
        loginPerAccount: { limit: positiveInt(env, 'RATE_LIMIT_LOGIN_PER_ACCOUNT', 10), windowSeconds: 900 },
        registerPerIp: { limit: positiveInt(env, 'RATE_LIMIT_REGISTER_PER_IP', 20), windowSeconds: 600 },
        registerPerAccount: { limit: positiveInt(env, 'RATE_LIMIT_REGISTER_PER_ACCOUNT', 5), windowSeconds: 3600 },
      },
    },
    patients: {
      port: port(env, 'PATIENTS_PORT', 4002),
      database: parseDatabaseUrl('PATIENTS_DATABASE_URL', env.PATIENTS_DATABASE_URL, 'patients.sqlite', dataDir),
      maxDeliveries: positiveInt(env, 'EVENTS_MAX_DELIVERIES', 5),
      claimIdleMs: positiveInt(env, 'EVENTS_CLAIM_IDLE_MS', 30_000),
      retryBaseMs: positiveInt(env, 'EVENTS_RETRY_BASE_MS', 100),
    },
    auth: {
      privateKeyPem,
      jwksUrl: url(env, 'IDENTITY_JWKS_URL', ['http:', 'https:']) ?? `${identityUrl ? new URL(identityUrl).origin : `http://127.0.0.1:${port(env, 'IDENTITY_PORT', 4001)}`}/.well-known/jwks.json`,
      issuer: env.JWT_ISSUER || 'phos-identity',
      audience: env.JWT_AUDIENCE || 'phos',
      tokenTtlSeconds: positiveInt(env, 'TOKEN_TTL_SECONDS', 900),
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
