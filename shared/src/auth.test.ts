import { generateKeyPairSync } from 'node:crypto';
import { VERIFIED_TOKEN_REUSE_MS, createTokenSigner, createTokenVerifier } from './auth';
import type { Config } from './config';

const auth: Config['auth'] = { issuer: 'phos-identity', audience: 'phos', tokenTtlSeconds: 900 } as Config['auth'];
const privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A verifier over the signer's keys whose clock the test moves. */
async function setup(ttlSeconds = 900) {
  const signer = await createTokenSigner({ ...auth, tokenTtlSeconds: ttlSeconds }, privateKeyPem);
  let clock = Date.now();
  const verifier = createTokenVerifier(auth, signer.jwks(), () => clock);
  return { signer, verifier, advance: (ms: number) => (clock += ms) };
}

describe('token verification', () => {
  it('checks a token once, then takes it as verified for a minute', async () => {
    const { signer, verifier, advance } = await setup();
    const token = await signer.sign({ userId: 'u1', role: 'DOCTOR' });
    const first = await verifier.verify(token);
    expect(first).toMatchObject({ userId: 'u1', role: 'DOCTOR' });
    advance(VERIFIED_TOKEN_REUSE_MS - 1000);
    // The same verdict, not a second check.
    expect(await verifier.verify(token)).toBe(first);
    advance(2000);
    const again = await verifier.verify(token);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });

  it('never takes a token past its expiry, however recently it was checked', async () => {
    const { signer, verifier, advance } = await setup(20);
    const token = await signer.sign({ userId: 'u1', role: 'PATIENT' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'u1' });
    // 20 s of life (from a whole second) and 5 s of clock tolerance: still good at 23 s, refused at 26 s.
    advance(23_000);
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'u1' });
    advance(3_000);
    await expect(verifier.verify(token)).rejects.toThrow('the token has expired');
  });

  it('remembers the whole token: the same claims with another signature are refused', async () => {
    const { signer, verifier } = await setup();
    const token = await signer.sign({ userId: 'u1', role: 'ADMIN' });
    await verifier.verify(token);
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${payload}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
    await expect(verifier.verify(forged)).rejects.toThrow('the token is not valid');
    // A refusal is not remembered as anything: the good token still passes.
    await expect(verifier.verify(token)).resolves.toMatchObject({ role: 'ADMIN' });
  });

  it('hands out a verdict no caller can change', async () => {
    const { signer, verifier } = await setup();
    const token = await signer.sign({ userId: 'u1', role: 'PATIENT' });
    const caller = await verifier.verify(token);
    expect(() => Object.assign(caller, { role: 'ADMIN' })).toThrow(TypeError);
    expect((await verifier.verify(token)).role).toBe('PATIENT');
  });
});
