import { start as startGateway } from '@phos/gateway';
import { start as startIdentity } from '@phos/identity';
import { start as startPatients } from '@phos/patients';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { createLogger, loadConfig } from '@phos/shared';
import type { Config, Logger } from '@phos/shared';
import { createDatabases } from './databases';
import { REGISTER, gql, registration } from './graphql';
import type { DatabaseKind, TestDatabases } from './databases';

/**
 * The suites' Redis: database 15 of the local one unless REDIS_URL says otherwise, so that their streams and
 * rate-limit counters never reach what `npm start` keeps in database 0.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/15';
/** The suites' token signing key (Ed25519): identity signs with it, tests forge tokens with it. */
export const TEST_PRIVATE_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A token signed with the suites' key: `claims` over valid ones, `header` over `{ alg: 'EdDSA' }`. */
export async function signTestToken(claims: Record<string, unknown>, config: Config, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: config.auth.issuer, aud: config.auth.audience, iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'EdDSA', ...header } as never)
    .sign(createPrivateKey(TEST_PRIVATE_KEY));
}
/** The ADMIN every test system bootstraps (BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD). */
export const TEST_ADMIN = { email: 'admin@phos.test', password: 'admin password for tests' };

/** Rate limits out of the way of suites that register hundreds of users from one address. */
export const UNLIMITED = {
  RATE_LIMIT_LOGIN_PER_IP: '1000000',
  RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000000',
  RATE_LIMIT_REGISTER_PER_IP: '1000000',
  RATE_LIMIT_REGISTER_PER_ACCOUNT: '1000000',
};

/** A configuration for tests: free ports, the test Redis, quiet logs; `env` overrides any variable. */
export function testConfig(env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    REDIS_URL,
    JWT_PRIVATE_KEY: TEST_PRIVATE_KEY,
    GATEWAY_PORT: '0',
    IDENTITY_PORT: '0',
    PATIENTS_PORT: '0',
    BOOTSTRAP_ADMIN_EMAIL: TEST_ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN.password,
    ...UNLIMITED,
    ...env,
  });
}

export function testLogger(name: string, config: Config): Logger {
  return createLogger(name, config.logLevel);
}

export interface TestSystem {
  config: Config;
  databases: TestDatabases;
  gatewayUrl: string;
  identityUrl: string;
  patientsUrl: string;
  /** A token of the bootstrapped ADMIN. */
  adminToken: string;
  /** A token of a DOCTOR (staff: reads every patient, watches new ones). */
  staffToken: string;
  /** Stops the patients subgraph (as a crash or deploy would), and starts it again. */
  stopPatients(): Promise<void>;
  startPatients(): Promise<void>;
  /**
   * Stops the gateway (its clients' sockets close), runs `whileStopped`, and starts the gateway again on the
   * same port.
   */
  restartGateway(whileStopped?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts identity, patients and the gateway in this process on free ports, each on a fresh database of
 * `kind`. Whatever started is stopped again if a later step fails.
 */
export interface StartSystemOptions {
  /** The logger of each service (default: {@link testLogger}); suites that read log lines pass their own. */
  logger?: (name: 'identity' | 'patients' | 'gateway', config: Config) => Logger;
}

export async function startSystem(kind: DatabaseKind, env: NodeJS.ProcessEnv = {}, options: StartSystemOptions = {}): Promise<TestSystem> {
  const loggerOf = options.logger ?? testLogger;
  const databases = await createDatabases(kind);
  const config = testConfig({ IDENTITY_DATABASE_URL: databases.identity, PATIENTS_DATABASE_URL: databases.patients, ...env });
  const stops: (() => Promise<void>)[] = [() => databases.drop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const identity = await startIdentity(config, loggerOf('identity', config));
    stops.push(() => identity.stop());
    // patients and the gateway verify tokens with the keys identity publishes.
    const jwks = { IDENTITY_JWKS_URL: identity.url.replace(/\/graphql$/, '/.well-known/jwks.json') };
    const verifyingEnv = () => ({ IDENTITY_DATABASE_URL: databases.identity, PATIENTS_DATABASE_URL: databases.patients, ...env, ...jwks });
    const verifying = testConfig(verifyingEnv());
    let patients = await startPatients(verifying, loggerOf('patients', config));
    let patientsPort = patients.port;
    const patientsStop = async () => patients.stop();
    stops.push(patientsStop);
    const subgraphUrls = { identity: identity.url, patients: patients.url };
    let gateway = await startGateway(verifying, loggerOf('gateway', config), { subgraphUrls });
    stops.push(() => gateway.stop());
    let patientsRunning = true;
    const { adminToken, staffToken } = await staffTokens(gateway.url);
    return {
      config,
      databases,
      adminToken,
      staffToken,
      gatewayUrl: gateway.url,
      identityUrl: identity.url,
      patientsUrl: patients.url,
      async stopPatients() {
        if (!patientsRunning) return;
        patientsRunning = false;
        await patients.stop();
      },
      async startPatients() {
        if (patientsRunning) return;
        const restartConfig = testConfig({
          IDENTITY_DATABASE_URL: databases.identity,
          PATIENTS_DATABASE_URL: databases.patients,
          ...env,
          ...jwks,
          PATIENTS_PORT: String(patientsPort),
        });
        patients = await startPatients(restartConfig, loggerOf('patients', restartConfig));
        patientsPort = patients.port;
        patientsRunning = true;
      },
      async restartGateway(whileStopped) {
        await gateway.stop();
        const restartConfig = testConfig({ ...verifyingEnv(), GATEWAY_PORT: String(gateway.port) });
        try {
          await whileStopped?.();
        } finally {
          gateway = await startGateway(restartConfig, loggerOf('gateway', restartConfig), { subgraphUrls });
        }
      },
      async stop() {
        if (!patientsRunning) stops.splice(stops.indexOf(patientsStop), 1);
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Signs in as the bootstrapped ADMIN at `url` (gateway or identity) and registers a DOCTOR with it. */
export async function staffTokens(url: string): Promise<{ adminToken: string; staffToken: string }> {
  const login = await gql(url, 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }', TEST_ADMIN);
  if (login.errors) throw new Error(`cannot sign in as the test ADMIN: ${JSON.stringify(login.errors)}`);
  const adminToken = login.data.login.token as string;
  const doctor = await gql(url, REGISTER, { input: registration({ role: 'DOCTOR' }) }, adminToken);
  if (doctor.errors) throw new Error(`cannot register the test DOCTOR: ${JSON.stringify(doctor.errors)}`);
  return { adminToken, staffToken: doctor.data.register.token };
}
