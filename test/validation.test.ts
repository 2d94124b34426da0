/**
 * Every input rule and error code of the contract, through the gateway, against PostgreSQL.
 */
import { REGISTER, codes, gql, registration } from './support/graphql';
import { signTestToken, startSystem } from './support/system';
import type { TestSystem } from './support/system';

const LOGIN = `mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token user { id } } }`;

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem('postgres');
});
afterAll(async () => {
  await system?.stop();
});

describe('register validation', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['an email without @', { email: 'not-an-email' }, 'email'],
    ['an email without a domain dot', { email: 'a@localhost' }, 'email'],
    ['an email with a space', { email: 'a b@example.org' }, 'email'],
    ['an email of 255 characters', { email: `${'a'.repeat(243)}@example.org` }, 'email'],
    // 252 characters, but 492 in lower case ('İ' lower-cases to two): the key it is unique by must fit too.
    ['an email that grows past 254 characters in lower case', { email: `${'İ'.repeat(240)}@example.org` }, 'email'],
    ['an email with an invisible character (a look-alike of another)', { email: 'admin\u200b@example.org' }, 'email'],
    ['an empty email', { email: '' }, 'email'],
    ['a password of 7 characters', { password: 'short12' }, 'password'],
    ['a password of 129 characters', { password: 'p'.repeat(129) }, 'password'],
    ['an empty first name', { firstName: '' }, 'firstName'],
    ['a first name of only spaces', { firstName: '    ' }, 'firstName'],
    ['a first name of 101 characters', { firstName: 'f'.repeat(101) }, 'firstName'],
    ['an empty last name', { lastName: ' ' }, 'lastName'],
    ['a last name of 101 characters', { lastName: 'l'.repeat(101) }, 'lastName'],
  ];

  it.each(cases)('refuses %s with BAD_USER_INPUT naming the field', async (_name, overrides, field) => {
    const input = registration(overrides);
    const response = await gql(system.gatewayUrl, REGISTER, { input });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0].extensions!.field).toBe(field);
    expect(response.data).toBeNull();
    // Nothing was stored: the same email registers fine once corrected.
    if (field !== 'email') {
      const retry = await gql(system.gatewayUrl, REGISTER, { input: { ...input, ...registration({ email: input.email }) } });
      expect(retry.errors).toBeUndefined();
    }
  });

  it('accepts the limits themselves', async () => {
    const email = `${'a'.repeat(242 - String(Date.now()).length)}${Date.now()}@example.org`;
    expect(email.length).toBe(254);
    const response = await gql(system.gatewayUrl, REGISTER, {
      input: registration({ email, password: 'p'.repeat(128), firstName: 'f'.repeat(100), lastName: 'L' }),
    });
    expect(response.errors).toBeUndefined();
    const eight = await gql(system.gatewayUrl, REGISTER, { input: registration({ password: '12345678' }) });
    expect(eight.errors).toBeUndefined();
  });

  it('refuses an unknown role value as a GraphQL validation error', async () => {
    const response = await gql(system.gatewayUrl, REGISTER, { input: registration({ role: 'SUPERUSER' }) });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers EMAIL_TAKEN for a registered email in any case', async () => {
    const input = registration();
    expect((await gql(system.gatewayUrl, REGISTER, { input })).errors).toBeUndefined();
    const again = await gql(system.gatewayUrl, REGISTER, { input: { ...input, email: input.email.toUpperCase() } });
    expect(codes(again)).toEqual(['EMAIL_TAKEN']);
    const padded = await gql(system.gatewayUrl, REGISTER, { input: { ...input, email: `  ${input.email} ` } });
    expect(codes(padded)).toEqual(['EMAIL_TAKEN']);
  });

  it('lets exactly one of two concurrent registrations of one email succeed', async () => {
    for (let round = 0; round < 5; round += 1) {
      const input = registration();
      const results = await Promise.all([
        gql(system.gatewayUrl, REGISTER, { input }),
        gql(system.gatewayUrl, REGISTER, { input: { ...input, email: input.email.toUpperCase() } }),
      ]);
      const succeeded = results.filter((result) => !result.errors);
      expect(succeeded).toHaveLength(1);
      expect(results.flatMap(codes)).toEqual(['EMAIL_TAKEN']);
    }
  });
});

describe('login', () => {
  it('signs in with the right password, whatever the email case', async () => {
    const input = registration();
    const registered = await gql(system.gatewayUrl, REGISTER, { input });
    const response = await gql(system.gatewayUrl, LOGIN, { email: input.email.toUpperCase(), password: input.password });
    expect(response.errors).toBeUndefined();
    expect(response.data.login.user.id).toBe(registered.data.register.user.id);
    const me = await gql(system.gatewayUrl, `{ me { id } }`, {}, response.data.login.token);
    expect(me.data.me.id).toBe(registered.data.register.user.id);
  });

  it('answers the same INVALID_CREDENTIALS for a wrong password and for an unknown email', async () => {
    const input = registration();
    await gql(system.gatewayUrl, REGISTER, { input });
    const wrongPassword = await gql(system.gatewayUrl, LOGIN, { email: input.email, password: 'not the password' });
    const unknownEmail = await gql(system.gatewayUrl, LOGIN, { email: `nobody-${input.email}`, password: input.password });
    expect(codes(wrongPassword)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknownEmail)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrongPassword.errors![0].message).toBe(unknownEmail.errors![0].message);
  });
});

describe('tokens and me', () => {
  it('answers null to an anonymous me', async () => {
    const response = await gql(system.gatewayUrl, `{ me { id } }`);
    expect(response.errors).toBeUndefined();
    expect(response.data.me).toBeNull();
  });

  it.each([
    ['garbage', 'not.a.token'],
    ['a token signed with another secret', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwicm9sZSI6IkFETUlOIiwiaWF0IjoxLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJl'],
  ])('answers UNAUTHENTICATED to me with %s', async (_name, token) => {
    const response = await gql(system.gatewayUrl, `{ me { id } }`, {}, token);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('answers UNAUTHENTICATED to me with an expired token', async () => {
    const token = await signTestToken({ sub: '00000000-0000-4000-8000-000000000000', role: 'PATIENT', iat: 1, exp: 61 }, system.config);
    const response = await gql(system.gatewayUrl, `{ me { id } }`, {}, token);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('patients arguments', () => {
  it.each([
    [{ first: 101 }, 'first'],
    [{ first: -1 }, 'first'],
    [{ first: 5, after: 'not-a-cursor' }, 'after'],
  ])('refuses %j with BAD_USER_INPUT', async (variables, field) => {
    const response = await gql(system.gatewayUrl, `query ($first: Int, $after: String) { patients(first: $first, after: $after) { totalCount } }`, variables, system.staffToken);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0].extensions!.field).toBe(field);
  });

  it('answers null for an unknown patient id', async () => {
    const response = await gql(system.gatewayUrl, `{ patient(id: "00000000-0000-4000-8000-000000000000") { id } }`, {}, system.staffToken);
    expect(response.errors).toBeUndefined();
    expect(response.data.patient).toBeNull();
  });
});
