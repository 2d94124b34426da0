/**
 * The live page: a staff member signs in, sees the newest patients and watches new ones arrive through the
 * gateway's `patientCreated` subscription (graphql-ws). The socket reconnects by itself; after every
 * (re)connection the list is read again, so patients created while the page was cut off are not missing.
 */
import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';

interface Patient {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  createdAt: string;
  user: { role: string } | null;
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string; retryAfterSeconds?: number };
}

type ConnectionState = 'signed-out' | 'connecting' | 'live' | 'offline';

const TOKEN_KEY = 'phos.live.token';
const NAME_KEY = 'phos.live.name';
const SHOWN = 100;
const PATIENT_FIELDS = 'id email firstName lastName createdAt user { role }';
const LOGIN = `mutation LiveSignIn($email: String!, $password: String!) { login(email: $email, password: $password) { token user { role firstName lastName } } }`;
const LIST = `query LivePatients { patients(first: 20) { totalCount edges { node { ${PATIENT_FIELDS} } } } }`;
const WATCH = `subscription LivePatientCreated { patientCreated { ${PATIENT_FIELDS} } }`;
const REGISTER = `mutation LiveRegisterDemo($input: RegisterInput!) { register(input: $input) { user { id } } }`;
const STAFF = ['DOCTOR', 'NURSE', 'ADMIN'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const endpoint = new URL('/graphql', location.href);

const patients = new Map<string, Patient>();
let totalCount = 0;
let client: Client | undefined;
let stopWatching: (() => void) | undefined;
let rereadTimer: number | undefined;

class RequestError extends Error {
  constructor(readonly errors: GraphQLError[]) {
    super(errors.map((error) => error.message).join('; '));
  }
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** One operation over HTTP (POST, JSON: Apollo's CSRF prevention accepts it). */
async function request<T>(query: string, variables: Record<string, unknown> = {}, token = sessionStorage.getItem(TOKEN_KEY)): Promise<T> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }))) as { data?: T; errors?: GraphQLError[] };
  if (body.errors?.length) throw new RequestError(body.errors);
  if (!body.data) throw new RequestError([{ message: `HTTP ${res.status}` }]);
  return body.data;
}

function setState(state: ConnectionState, text?: string): void {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text ?? { 'signed-out': 'Signed out', connecting: 'Connecting…', live: 'Live', offline: 'Offline: reconnecting…' }[state];
}

function render(newIds: ReadonlySet<string> = new Set()): void {
  const rows = [...patients.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)).slice(0, SHOWN);
  const body = $('patients');
  body.replaceChildren(
    ...rows.map((patient) => {
      const row = document.createElement('tr');
      row.dataset.id = patient.id;
      if (newIds.has(patient.id)) row.className = 'new';
      const created = new Date(patient.createdAt);
      for (const text of [`${patient.firstName} ${patient.lastName}`, patient.email, patient.user?.role ?? '', created.toLocaleString()]) {
        const cell = document.createElement('td');
        cell.textContent = text; // never innerHTML: names and emails are user input
        row.append(cell);
      }
      row.lastElementChild?.setAttribute('title', patient.createdAt);
      return row;
    }),
  );
  $('empty').hidden = rows.length > 0;
  $('count').textContent = `${totalCount} patient${totalCount === 1 ? '' : 's'} in all`;
}

function add(list: Patient[], highlight: boolean): void {
  const fresh = new Set<string>();
  for (const patient of list) {
    if (!patients.has(patient.id)) fresh.add(patient.id);
    patients.set(patient.id, patient);
  }
  if (!highlight) fresh.clear();
  render(fresh);
}

/** Reads the newest patients again (on every connection: whatever was created while cut off appears). */
async function reread(): Promise<void> {
  try {
    const data = await request<{ patients: { totalCount: number; edges: { node: Patient }[] } }>(LIST);
    totalCount = data.patients.totalCount;
    add(data.patients.edges.map((edge) => edge.node), patients.size > 0);
  } catch (error) {
    if (error instanceof RequestError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) signOut('Your session has ended: sign in again.');
  }
}

/** Exponential backoff with jitter, at most about 5 s between attempts. */
const retryWait = (retries: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(5000, 300 * 2 ** retries) + Math.random() * 300));

function watch(): void {
  client = createClient({
    url: endpoint.href.replace(/^http/, 'ws'),
    connectionParams: () => ({ authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}` }),
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    retryWait,
    // 4403: the token was refused (expired or revoked); reconnecting with it would fail the same way.
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
    on: {
      connecting: () => setState(patients.size ? 'offline' : 'connecting'),
      connected: () => {
        setState('live');
        void reread();
        // Once more shortly after: the subscription is re-sent after the connection is acknowledged, so a patient
        // created in between would be in neither the first read nor the subscription.
        clearTimeout(rereadTimer);
        rereadTimer = window.setTimeout(() => void reread(), 1500);
      },
      closed: (event) => {
        if (!sessionStorage.getItem(TOKEN_KEY)) return;
        if ((event as CloseEvent).code === 4403) signOut('Your session has ended: sign in again.');
        else setState('offline');
      },
    },
  });
  stopWatching = client.subscribe<{ patientCreated: Patient }>(
    { query: WATCH },
    {
      next: (result) => {
        const errors = (result.errors ?? []) as GraphQLError[];
        if (errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) signOut('Your session has ended: sign in again.');
        if (result.data?.patientCreated) {
          totalCount += patients.has(result.data.patientCreated.id) ? 0 : 1;
          add([result.data.patientCreated], true);
        }
      },
      error: (error) => {
        const errors = Array.isArray(error) ? (error as GraphQLError[]) : [];
        if (errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED' || e.extensions?.code === 'FORBIDDEN')) signOut('Your session has ended: sign in again.');
        else if (sessionStorage.getItem(TOKEN_KEY)) setState('offline', 'Disconnected: reload the page');
      },
      complete: () => undefined,
    },
  );
}

function showBoard(name: string): void {
  $('sign-in').hidden = true;
  $('board').hidden = false;
  $('who').textContent = name;
  setState('connecting');
  watch();
}

function signOut(message = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(NAME_KEY);
  stopWatching?.();
  void client?.dispose();
  client = undefined;
  clearTimeout(rereadTimer);
  patients.clear();
  render();
  $('board').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  setState('signed-out');
}

$<HTMLFormElement>('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const error = $('sign-in-error');
  error.textContent = '';
  try {
    const { login } = await request<{ login: { token: string; user: { role: string; firstName: string; lastName: string } } }>(
      LOGIN,
      { email: String(form.get('email')), password: String(form.get('password')) },
      null,
    );
    if (!STAFF.includes(login.user.role)) {
      error.textContent = 'This page is for staff (doctors, nurses and admins).';
      return;
    }
    const name = `${login.user.firstName} ${login.user.lastName}`;
    sessionStorage.setItem(TOKEN_KEY, login.token);
    sessionStorage.setItem(NAME_KEY, name);
    (event.target as HTMLFormElement).reset();
    showBoard(name);
  } catch (caught) {
    error.textContent =
      caught instanceof RequestError && caught.code === 'RATE_LIMITED'
        ? `Too many attempts: try again in ${caught.errors[0].extensions?.retryAfterSeconds ?? 60} s.`
        : caught instanceof RequestError
          ? caught.message
          : 'The gateway cannot be reached.';
  }
});

$('sign-out').addEventListener('click', () => signOut());

$<HTMLFormElement>('demo-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const result = $('demo-result');
  const suffix = crypto.getRandomValues(new Uint32Array(2)).join('');
  const input = {
    email: `demo-${suffix}@example.org`,
    // A throwaway password: the demo patient is never signed in as.
    password: `demo-${suffix}-${crypto.getRandomValues(new Uint32Array(2)).join('')}`,
    firstName: String(form.get('firstName')),
    lastName: String(form.get('lastName')),
  };
  result.textContent = 'Registering…';
  try {
    // Anonymous, as a patient registers themselves: the new row arrives through the subscription.
    await request(REGISTER, { input }, null);
    result.textContent = `Registered ${input.email}.`;
  } catch (caught) {
    result.textContent = caught instanceof RequestError ? caught.message : 'The gateway cannot be reached.';
  }
});

const token = sessionStorage.getItem(TOKEN_KEY);
if (token) showBoard(sessionStorage.getItem(NAME_KEY) ?? '');
else setState('signed-out');
