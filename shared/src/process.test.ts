import { waitAtMost } from './process';

describe('waitAtMost', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves as soon as the work does, and leaves no timer behind', async () => {
    await waitAtMost(Promise.resolve('done'), 10_000);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stops waiting for work that never ends once the time is up', async () => {
    let settled = false;
    const waiting = waitAtMost(new Promise(() => undefined), 3000).then(() => (settled = true));
    await jest.advanceTimersByTimeAsync(2999);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await waiting;
    expect(settled).toBe(true);
  });

  it('passes on a failure of the work, and leaves no timer behind', async () => {
    await expect(waitAtMost(Promise.reject(new Error('broken')), 3000)).rejects.toThrow('broken');
    expect(jest.getTimerCount()).toBe(0);
  });
});
