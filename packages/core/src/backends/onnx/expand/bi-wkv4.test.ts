import { describe, expect, it } from 'vitest';
import { referenceBiWkv4 } from '../../../../test-support/reference-bi-wkv4-f64.js';
import { GraphBuilder } from '../../../graph/builder.js';
import { SeededRandom } from '../../../rwkv/random-weights.js';
import { backendFor, defaultDevice } from '../../registry.js';

/**
 * The bidirectional WKV on the default device's backend (the ONNX lowering on the CPU:
 * two Scans, linear in T) against its O(T^2) float64 definition. Bound: max |y - ref|
 * <= 2e-6 (measured at most 1.8e-7 on the CPU; float32 sums scaled by their largest term).
 */
describe('BiWkv4 (Vision-RWKV bidirectional WKV)', () => {
  it.each([1, 2, 7, 50, 300])('matches its float64 definition at T = %i, decay of either sign', async (T) => {
    const B = 2;
    const C = 12;
    const rng = new SeededRandom(T);
    const draw = (n: number, lo: number, hi: number) =>
      Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
    const b = new GraphBuilder('bi');
    const k = b.input('k', 'float32', ['batch', 'time', C]);
    const v = b.input('v', 'float32', ['batch', 'time', C]);
    const w = b.input('w', 'float32', [C]);
    const u = b.input('u', 'float32', [C]);
    b.output('y', b.biWkv4(k, v, w, u));
    const graph = b.build();
    const device = defaultDevice();
    const compiled = await backendFor(device).compile(graph, { device });
    // Decays from -T (growth by distance, as trained models have) to 5T (sharp locality).
    const kk = draw(B * T * C, -3, 3);
    const vv = draw(B * T * C, -1, 1);
    const ww = draw(C, -1, 5).map((x) => x * T);
    const uu = draw(C, -2, 2).map((x) => x * T);
    const out = await compiled.run({
      k: { dtype: 'float32', dims: [B, T, C], data: kk },
      v: { dtype: 'float32', dims: [B, T, C], data: vv },
      w: { dtype: 'float32', dims: [C], data: ww },
      u: { dtype: 'float32', dims: [C], data: uu },
    });
    const ref = referenceBiWkv4(kk, vv, ww, uu, B, T, C);
    let maxDiff = 0;
    const y = out['y']!.data;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i]! - ref[i]!));
    console.log(`BiWkv4 on ${device}, T=${T}: max |y - float64| = ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(2e-6);
    await compiled.dispose();
  });
});
