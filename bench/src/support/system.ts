import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDatabases, freePort, startOwnRedis } from './env';
import type { BenchDatabases, OwnRedis } from './env';
import { keepAliveAgent, poster, sleep } from './load';
import { startService } from './processes';
import type { ServiceProcess } from './processes';

const ADMIN = { email: 'admin@bench.phos.test', password: `bench admin ${randomBytes(8).toString('hex')}` };
/** Far above any rate the bench reaches: the bench measures the work, not the limiter's refusals. */
const NO_LIMIT = '1000000000';

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { token user { id } } }`;

/**
 * How much a run measures: `full` is the result, `quick` gives the same picture in a few minutes, and `smoke`
 * measures nothing worth reading: it only checks, in a minute, that every scenario still runs end to end.
 */
export type BenchMode = 'full' | 'quick' | 'smoke';

/** Everything a scenario may use: the running system (as child processes), its Redis and databases. */
export interface BenchContext {
  mode: BenchMode;
  /** This run's value of a size or a duration, given one per mode. */
  sized<T>(values: Record<BenchMode, T>): T;
  runId: string;
  /** bench/results/tmp/<run>: logs and Redis's folder, never committed. */
  tmp: string;
  redis: OwnRedis;
  databases: BenchDatabases;
  /** The environment every service process gets. */
  env: NodeJS.ProcessEnv;
  identity: ServiceProcess;
  patients: ServiceProcess;
  gateway: ServiceProcess;
  /** `Bearer <token>` of an ADMIN (staff may read every patient and user). */
  authorization: string;
  /** Starts one more gateway on a free port, pointed at the same subgraphs unless `env` says otherwise (stop it yourself). */
  startGateway(name: string, env?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  /** A unique registration input. */
  registration(tag: string): { email: string; password: string; firstName: string; lastName: string };
  /** Runs one statement on the patients database. */
  patientsQuery<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startBenchSystem(mode: BenchMode, tmpRoot: string): Promise<BenchContext> {
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const tmp = join(tmpRoot, runId);
  mkdirSync(tmp, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
  };
  try {
    const redis = await startOwnRedis(join(tmp, 'redis'));
    stops.push(() => redis.stop());
    const databases = await createDatabases();
    stops.push(() => databases.drop());
    const [identityPort, patientsPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      REDIS_URL: redis.url,
      // Signing keys for both token schemes the services have known (HS256 secret, Ed25519 key).
      JWT_SECRET: `bench-${randomBytes(24).toString('hex')}`,
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      RATE_LIMIT_LOGIN_PER_IP: NO_LIMIT,
      RATE_LIMIT_LOGIN_PER_ACCOUNT: NO_LIMIT,
      RATE_LIMIT_REGISTER_PER_IP: NO_LIMIT,
      RATE_LIMIT_REGISTER_PER_ACCOUNT: NO_LIMIT,
      TOKEN_TTL_SECONDS: '86400',
      DATA_DIR: join(tmp, 'data'),
      IDENTITY_DATABASE_URL: databases.identity,
      PATIENTS_DATABASE_URL: databases.patients,
      IDENTITY_PORT: String(identityPort),
      PATIENTS_PORT: String(patientsPort),
      GATEWAY_PORT: String(gatewayPort),
      IDENTITY_URL: `http://127.0.0.1:${identityPort}/graphql`,
      PATIENTS_URL: `http://127.0.0.1:${patientsPort}/graphql`,
    };
    const identity = await startService('subgraphs/identity', identityPort, env, join(tmp, 'identity.log'));
    stops.push(() => identity.stop());
    const patients = await startService('subgraphs/patients', patientsPort, env, join(tmp, 'patients.log'));
    stops.push(() => patients.stop());
    const gateway = await startService('gateway', gatewayPort, env, join(tmp, 'gateway.log'));
    stops.push(() => gateway.stop());
    const authorization = `Bearer ${await login(gateway.url, ADMIN)}`;

    const pg = new Client({ connectionString: databases.patients });
    await pg.connect();
    stops.push(() => pg.end());
    let counter = 0;
    const context: BenchContext = {
      mode,
      sized: (values) => values[mode],
      runId,
      tmp,
      redis,
      databases,
      env,
      identity,
      patients,
      gateway,
      authorization,
      async startGateway(name, overrides = {}) {
        const port = await freePort();
        return startService('gateway', port, { ...env, ...overrides, GATEWAY_PORT: String(port) }, join(tmp, `${name}.log`));
      },
      registration(tag) {
        counter += 1;
        return { email: `bench-${runId}-${tag}-${counter}@example.org`, password: 'correct horse battery', firstName: 'Bench', lastName: tag };
      },
      async patientsQuery<T>(sql: string, params: unknown[] = []) {
        return (await pg.query(sql, params)).rows as T[];
      },
      stop: stopAll,
    };
    await seed(context, 20);
    return context;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

const LOGIN = 'mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';

/** An ADMIN token, by the public contract: identity bootstraps the ADMIN, `login` through the gateway. */
async function login(gatewayUrl: string, admin: { email: string; password: string }): Promise<string> {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: LOGIN, variables: admin }),
  });
  const body = (await response.json()) as { data?: { login?: { token: string } }; errors?: unknown };
  if (!body.data?.login?.token) throw new Error(`cannot log in as the bootstrap ADMIN: ${JSON.stringify(body.errors)}`);
  return body.data.login.token;
}

/** Registers `count` patients through the gateway and waits until the patients subgraph has them all. */
async function seed(context: BenchContext, count: number): Promise<void> {
  const agent = keepAliveAgent(4);
  for (let i = 0; i < count; i++) {
    const result = await poster(context.gateway.url, { query: REGISTER, variables: { input: context.registration('seed') } }, {}, agent)();
    if (!result.ok) throw new Error(`seeding: register failed: ${result.body}`);
  }
  agent.destroy();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [{ n }] = await context.patientsQuery<{ n: string }>(`SELECT count(*) AS n FROM patients WHERE last_name = 'seed'`);
    if (Number(n) >= count) return;
    if (Date.now() > deadline) throw new Error(`seeding: only ${n} of ${count} patients created in 30 s`);
    await sleep(100);
  }
}
