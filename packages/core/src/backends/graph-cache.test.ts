import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, DisposedError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { CompiledGraphCache } from './graph-cache.js';
import { registeredBackends } from './registry.js';

function graph(n: number) {
  const b = new GraphBuilder(`g${n}`);
  b.output('y', b.mul(b.input('x', 'float32', [n]), b.scalar(2)));
  return b.build();
}

describe('CompiledGraphCache', () => {
  it('builds and compiles each key once, and refuses use after dispose', async () => {
    const cache = new CompiledGraphCache<number>('test model', { device: 'cpu' });
    let builds = 0;
    const build = (n: number) => () => {
      builds++;
      return graph(n);
    };
    const [a, b] = await Promise.all([cache.get(3, build(3)), cache.get(3, build(3))]);
    expect(a).toBe(b);
    await cache.get(4, build(4));
    expect(builds).toBe(2);
    const out = await a.run({ x: { dtype: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) } });
    expect([...out['y']!.data]).toEqual([2, 4, 6]);
    await cache.dispose();
    await expect(cache.get(3, build(3))).rejects.toThrow(DisposedError);
  });

  it('forgets a failed build, and names a device nobody serves at construction', async () => {
    const cache = new CompiledGraphCache<number>('test model', { device: 'cpu' });
    await expect(
      cache.get(1, () => {
        throw new Error('no graph');
      }),
    ).rejects.toThrow('no graph');
    await expect(cache.get(1, () => graph(1))).resolves.toBeDefined();
    await cache.dispose();
    if (!registeredBackends().includes('cuda'))
      expect(() => new CompiledGraphCache('m', { device: 'cuda' })).toThrow(BackendUnavailableError);
  });
});
