import { ConfigError, loadConfig, parseDatabaseUrl, projectRoot } from './config';
import { join } from 'node:path';

const base = {};

describe('loadConfig', () => {
  it('has the contract defaults', () => {
    const config = loadConfig(base);
    expect(config.nodeEnv).toBe('development');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect([config.gateway.port, config.identity.port, config.patients.port]).toEqual([4000, 4001, 4002]);
    expect(config.identity.database).toEqual({ kind: 'sqlite', path: join(projectRoot, '.data', 'identity.sqlite') });
    expect(config.patients.database).toEqual({ kind: 'sqlite', path: join(projectRoot, '.data', 'patients.sqlite') });
    expect(config.identity.bootstrapAdmin).toBeUndefined();
    expect(Object.isFrozen(config) && Object.isFrozen(config.identity)).toBe(true);
  });

  it('selects PostgreSQL for postgres:// URLs', () => {
    const config = loadConfig({ ...base, IDENTITY_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/identity', PATIENTS_DATABASE_URL: 'postgresql://p@h/db' });
    expect(config.identity.database).toEqual({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/identity' });
    expect(config.patients.database.kind).toBe('postgres');
  });

  it.each([
    [{ GATEWAY_PORT: '70000' }, /GATEWAY_PORT/],
    [{ IDENTITY_PORT: '12.5' }, /IDENTITY_PORT/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ NODE_ENV: 'prod' }, /NODE_ENV/],
    [{ BOOTSTRAP_ADMIN_EMAIL: 'admin@example.org' }, /BOOTSTRAP_ADMIN_PASSWORD/],
    [{ IDENTITY_JWKS_URL: 'ftp://identity/keys' }, /IDENTITY_JWKS_URL/],
    [{ TOKEN_TTL_SECONDS: '0' }, /TOKEN_TTL_SECONDS/],
    [{ IDENTITY_DATABASE_URL: 'mysql://db/identity' }, /IDENTITY_DATABASE_URL/],
  ])('refuses %j with a one-line message naming the variable', (env, pattern) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('token keys', () => {
  it('finds identity\'s JWKS from IDENTITY_URL, IDENTITY_PORT or IDENTITY_JWKS_URL', () => {
    expect(loadConfig(base).auth.jwksUrl).toBe('http://127.0.0.1:4001/.well-known/jwks.json');
    expect(loadConfig({ IDENTITY_PORT: '5001' }).auth.jwksUrl).toBe('http://127.0.0.1:5001/.well-known/jwks.json');
    expect(loadConfig({ IDENTITY_URL: 'http://identity:4001/graphql' }).auth.jwksUrl).toBe('http://identity:4001/.well-known/jwks.json');
    expect(loadConfig({ IDENTITY_JWKS_URL: 'https://keys.example.org/jwks.json' }).auth.jwksUrl).toBe('https://keys.example.org/jwks.json');
  });

  it('generates no key in production; takes JWT_PRIVATE_KEY with escaped line breaks', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).auth.privateKeyPem).toBeUndefined();
    expect(loadConfig({ JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----' }).auth.privateKeyPem).toBe('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----');
  });
});

describe('parseDatabaseUrl', () => {
  it('reads SQLite paths, relative to the project root', () => {
    expect(parseDatabaseUrl('X', 'sqlite:data/x.db', 'f', '/d')).toEqual({ kind: 'sqlite', path: join(projectRoot, 'data/x.db') });
    expect(parseDatabaseUrl('X', '/abs/x.db', 'f', '/d')).toEqual({ kind: 'sqlite', path: '/abs/x.db' });
    expect(parseDatabaseUrl('X', undefined, 'f.sqlite', '/d')).toEqual({ kind: 'sqlite', path: '/d/f.sqlite' });
  });
});
