import { createBatchLoader } from './graphql';

describe('createBatchLoader', () => {
  it('loads the keys asked for in one tick with one call, and caches them', async () => {
    const calls: string[][] = [];
    const load = createBatchLoader(async (keys: string[]) => {
      calls.push(keys);
      return new Map(keys.filter((key) => key !== 'missing').map((key) => [key, key.toUpperCase()]));
    });
    const values = await Promise.all([load('a'), load('b'), load('a'), load('missing')]);
    expect(values).toEqual(['A', 'B', 'A', undefined]);
    expect(calls).toEqual([['a', 'b', 'missing']]);
    expect(await load('b')).toBe('B');
    expect(calls).toHaveLength(1);
  });

  it('rejects every waiter of a failed batch', async () => {
    const load = createBatchLoader(async () => {
      throw new Error('down');
    });
    await expect(Promise.all([load(1), load(2)])).rejects.toThrow('down');
  });
});
