import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// The built module, run in processes of their own: the allocator's options are read once per process.
const PASSWORD_MODULE = join(__dirname, '..', '..', 'dist', 'users', 'password.js');

/** Page faults per hash in a fresh process once its pool has hashed, with hashes `pauseMs` apart. */
function faultsPerHash(purgeDelay: string | undefined, pauseMs = 50): { faults: number; purgeDelay: string } {
  const script = `
    const { hashPassword, verifyPassword } = require(${JSON.stringify(PASSWORD_MODULE)});
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    (async () => {
      // Every thread of the pool hashes a few times first, so each has had its memory once.
      for (let round = 0; round < 3; round++) await Promise.all([1, 2, 3, 4, 5, 6].map((i) => hashPassword('warm-up ' + i)));
      const before = process.resourceUsage().minorPageFault;
      const count = 6;
      for (let i = 0; i < count; i++) {
        await sleep(${pauseMs});
        const hash = await hashPassword('password ' + i);
        if (!(await verifyPassword(hash, 'password ' + i))) throw new Error('a hash did not verify');
      }
      const faults = (process.resourceUsage().minorPageFault - before) / (2 * count);
      process.stdout.write(JSON.stringify({ faults, purgeDelay: process.env.MIMALLOC_PURGE_DELAY }));
    })().catch((error) => { console.error(error); process.exit(1); });
  `;
  const env = { ...process.env };
  // This jest process may have loaded the module already, which set the variable here too.
  delete env.MIMALLOC_PURGE_DELAY;
  if (purgeDelay !== undefined) env.MIMALLOC_PURGE_DELAY = purgeDelay;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 30_000 }));
}

describe('password hashing memory', () => {
  it('keeps a finished hash’s memory for the next one: hashes 50 ms apart fault almost nothing in', () => {
    const { faults, purgeDelay } = faultsPerHash(undefined);
    expect(purgeDelay).toBe('1000');
    // One argon2id hash (and verify) uses 19 MiB, 4,864 pages.
    expect(faults).toBeLessThan(100);
  });

  it('with mimalloc’s default delay (10 ms), the same hashes fault much of their memory in again', () => {
    const { faults, purgeDelay } = faultsPerHash('10');
    // An operator's own setting wins.
    expect(purgeDelay).toBe('10');
    expect(faults).toBeGreaterThan(400);
  });
});
