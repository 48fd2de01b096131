import { type CompiledGraph, GraphBuilder, hostTensor, SeededRandom } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceBiWkv4 } from '../../../core/test-support/reference-bi-wkv4-f64.js';
import { cudaBackend } from '../backend/cuda-backend.js';
import { probeGpu } from '../driver/probe.js';
import { biWkv4Segments } from './bi-wkv4.js';

/**
 * BiWkv4 on CUDA, whole walks (S = 1) and split into segments, against its O(T^2)
 * definition in float64. Bound: max |y - ref| / (1 + |ref|) <= 2e-5.
 */
const probe = probeGpu();

describe('how BiWkv4 splits an image', () => {
  it('enough segments to fill the GPU, none shorter than 16 tokens', () => {
    expect(biWkv4Segments(2, 4096, 384)).toEqual({ S: 43, L: 96 });
    expect(biWkv4Segments(32, 196, 384)).toEqual({ S: 3, L: 66 });
    expect(biWkv4Segments(256, 196, 384)).toEqual({ S: 1, L: 196 });
    expect(biWkv4Segments(1, 10, 8)).toEqual({ S: 1, L: 10 });
  });
});

describe.skipIf(!probe.ok)(
  `BiWkv4 on CUDA against its float64 definition (${probe.reason.slice(0, 100)})`,
  () => {
    const compiled: CompiledGraph[] = [];
    afterAll(async () => {
      for (const c of compiled) await c.dispose();
    });
    for (const [B, T, C] of [
      [2, 196, 24],
      [1, 1000, 8],
      [2, 4096, 4],
      [3, 37, 5],
    ] as const) {
      it(`B ${B}, T ${T}, C ${C} (${biWkv4Segments(B, T, C).S} segment(s))`, async () => {
        const rng = new SeededRandom(T);
        const u = (lo: number, hi: number) => lo + (hi - lo) * rng.uniform();
        const k = Float32Array.from({ length: B * T * C }, () => u(-3, 3));
        const v = Float32Array.from({ length: B * T * C }, () => u(-1, 1));
        // Decays and bonuses as trained models spread them (w / T per token).
        const w = Float32Array.from({ length: C }, (_, c) => -50 + (550 * c) / Math.max(1, C - 1));
        const uu = Float32Array.from({ length: C }, () => u(-100, 100));
        const b = new GraphBuilder(`biwkv4_${T}`);
        const kk = b.input('k', 'float32', [B, T, C]);
        const vv = b.input('v', 'float32', [B, T, C]);
        b.output(
          'y',
          b.biWkv4(kk, vv, b.weight('w', hostTensor([C], w)), b.weight('u', hostTensor([C], uu))),
        );
        const gpu = await cudaBackend.compile(b.build(), { device: 'cuda' });
        compiled.push(gpu);
        const want = referenceBiWkv4(k, v, w, uu, B, T, C);
        for (let call = 0; call < 2; call++) {
          const got = await gpu.run({
            k: { dtype: 'float32', dims: [B, T, C], data: k },
            v: { dtype: 'float32', dims: [B, T, C], data: v },
          });
          let err = 0;
          for (let i = 0; i < want.length; i++)
            err = Math.max(err, Math.abs(got['y']!.data[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
          if (call === 0) console.log(`BiWkv4 B ${B} T ${T} C ${C}: ${err.toExponential(2)}`);
          expect(err).toBeLessThanOrEqual(2e-5);
        }
      });
    }
  },
);
