import { describe, expect, it } from 'vitest';
import { referenceBiWkv6 } from '../../../../test-support/reference-bi-wkv6-f64.js';
import { GraphBuilder } from '../../../graph/builder.js';
import { SeededRandom } from '../../../rwkv/random-weights.js';
import { backendFor, defaultDevice } from '../../registry.js';

/**
 * Vision-RWKV 6's bidirectional WKV on the default device's backend (the ONNX lowering
 * on the CPU: a forward and a reverse Scan, linear in T) against its O(T^2) float64
 * definition. Decays are drawn as the official model forms them, exp(-exp(x)) with
 * x in [-6, 1] (factors 0.07 to 0.9975: long and short memories). Bound: max |y - ref|
 * <= 1e-6 x (1 + max |ref|) (float32 sums of up to T terms).
 */
describe('BiWkv6 (Vision-RWKV 6 bidirectional WKV)', () => {
  it.each([1, 2, 7, 64, 200])('matches its float64 definition at T = %i', async (T) => {
    const [B, H, N] = [2, 3, 8];
    const rng = new SeededRandom(100 + T);
    const draw = (n: number, lo: number, hi: number) =>
      Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
    const dims = [B, T, H, N];
    const b = new GraphBuilder('bi6');
    const [r, k, v, w] = ['r', 'k', 'v', 'w'].map((n) => b.input(n, 'float32', ['batch', 'time', H, N]));
    const u = b.input('u', 'float32', [H, N]);
    b.output('y', b.biWkv6(r!, k!, v!, w!, u));
    const graph = b.build();
    const device = defaultDevice();
    const compiled = await backendFor(device).compile(graph, { device });
    const n = B * T * H * N;
    const rr = draw(n, -1, 1);
    const kk = draw(n, -1, 1);
    const vv = draw(n, -1, 1);
    const ww = draw(n, -6, 1).map((x) => Math.exp(-Math.exp(x)));
    const uu = draw(H * N, -1, 1);
    const t = (data: Float32Array, d: number[]) => ({ dtype: 'float32' as const, dims: d, data });
    const out = await compiled.run({
      r: t(rr, dims),
      k: t(kk, dims),
      v: t(vv, dims),
      w: t(ww, dims),
      u: t(uu, [H, N]),
    });
    const ref = referenceBiWkv6(rr, kk, vv, ww, uu, B, T, H, N);
    const y = out['y']!.data;
    expect(y.length).toBe(ref.length);
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(y[i]! - ref[i]!));
      maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    }
    console.log(
      `BiWkv6 on ${device}, T=${T}: max |y - float64| = ${maxDiff.toExponential(2)} (max |y| ${maxRef.toFixed(2)})`,
    );
    expect(maxRef).toBeGreaterThan(0.1);
    expect(maxDiff).toBeLessThanOrEqual(1e-6 * (1 + maxRef));
    await compiled.dispose();
  });

  it('rejects a bonus that is not [H, N]', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', ['batch', 'time', 2, 4]);
    expect(() => b.biWkv6(x, x, x, x, b.input('u', 'float32', [4, 2]))).toThrow(/must be \[H, N\]/);
  });
});
