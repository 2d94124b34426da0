/**
 * The live page (`/live`) in a real browser (Debian's chromium, driven by playwright-core): a staff member
 * signs in, a patient registered through the API appears within seconds, and after a gateway restart the
 * page reconnects by itself and shows the patient registered while it was cut off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { REGISTER, gql, registration } from './support/graphql';
import { eventually } from './support/redis';
import { startSystem } from './support/system';
import type { TestSystem } from './support/system';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the live page', () => {
  let system: TestSystem;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const nurse = registration({ role: 'NURSE', firstName: 'Florence', lastName: 'Nightingale' });

  beforeAll(async () => {
    system = await startSystem('sqlite');
    const staff = await gql(system.gatewayUrl, REGISTER, { input: nurse }, system.adminToken);
    expect(staff.errors).toBeUndefined();
    profile = mkdtempSync(join(tmpdir(), 'phos-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await system?.stop();
  });

  const base = () => system.gatewayUrl.replace(/\/graphql$/, '');
  const rowOf = (email: string) => page.locator('#patients tr', { hasText: email });

  test('serves the page with a strict content security policy', async () => {
    const res = await fetch(`${base()}/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${base()}/live/live.js`)).status).toBe(200);
  });

  test('a staff member signs in and sees new patients arrive live', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base()}/live`);
    await page.fill('input[name=email]', nurse.email);
    await page.fill('input[name=password]', nurse.password);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#status[data-state="live"]', { timeout: 10_000 });
    await expect(page.locator('#who').textContent()).resolves.toBe('Florence Nightingale');

    // The subscription is established upstream once the gateway has an upstream subscription for it.
    await eventually(async () => (await subscribed(system)) || undefined, 10_000, 'the page subscription');
    const input = registration({ firstName: 'Grace', lastName: 'Live' });
    expect((await gql(system.gatewayUrl, REGISTER, { input })).errors).toBeUndefined();
    await rowOf(input.email).waitFor({ timeout: 5_000 });
    await expect(rowOf(input.email).textContent()).resolves.toContain('Grace Live');
    expect(errors).toEqual([]);
  });

  test('after a gateway restart it reconnects by itself and shows the patient created meanwhile', async () => {
    const meanwhile = registration({ firstName: 'Ada', lastName: 'Meanwhile' });
    await system.restartGateway(async () => {
      await page.waitForSelector('#status[data-state="offline"]', { timeout: 10_000 });
      // Through identity directly: the gateway is down. Wait until the patient record exists.
      const registered = await gql(system.identityUrl, REGISTER, { input: meanwhile });
      expect(registered.errors).toBeUndefined();
      await eventually(async () => {
        const res = await gql(system.patientsUrl, 'query { patients(first: 5) { edges { node { email } } } }', {}, system.staffToken);
        return res.data?.patients.edges.some((edge: { node: { email: string } }) => edge.node.email === meanwhile.email) || undefined;
      }, 10_000, 'the patient created while the gateway was down');
    });
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
    await rowOf(meanwhile.email).waitFor({ timeout: 5_000 });

    // And it is live again: the next patient arrives through the resumed subscription.
    await eventually(async () => (await subscribed(system)) || undefined, 10_000, 'the page subscription after the restart');
    const after = registration({ firstName: 'Alan', lastName: 'After' });
    expect((await gql(system.gatewayUrl, REGISTER, { input: after })).errors).toBeUndefined();
    await rowOf(after.email).waitFor({ timeout: 5_000 });
  });
});

/** True once the gateway holds an upstream patientCreated subscription (from its /metrics). */
async function subscribed(system: TestSystem): Promise<boolean> {
  const text = await (await fetch(system.gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  return /^phos_subscriptions_active\{[^}]*side="upstream"[^}]*\} [1-9]/m.test(text);
}
