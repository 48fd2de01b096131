import { dequantizeNBits, GraphBuilder, hostTensor, quantizeNBits, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { cpuNativeBackend } from '../backend.js';
import { haveCCompiler } from '../compiler/c-compiler.js';

const haveCompiler = haveCCompiler();

/** Round half to even, as C's lrintf in the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Input rows as the int4 product sees them: int8 codes per block of 32 times the block's scale (float32 steps). */
function quantizedInput(x: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
    const s = Math.fround(amax / 127);
    const inv = s > 0 ? Math.fround(1 / s) : 0;
    for (let j = 0; j < 32; j++) out[b + j] = rint(Math.fround(x[b + j]! * inv)) * s;
  }
  return out;
}

describe.skipIf(!haveCompiler)('cpu-native int4 products', () => {
  // The kernel against float64 arithmetic on the same codes: the weights dequantized by the
  // core's own rule (the C quantizer follows it), the inputs by the rule above. Sizes cover the
  // eight-block vector path, its scalar tail, and both; 1 and 5 input rows.
  for (const k of [256, 96, 320]) {
    it(`K = ${k}: equals float64 arithmetic on the same codes within 1e-4 (measured about 1e-6)`, async () => {
      const n = 8;
      const rng = new SeededRandom(k);
      const w = Float32Array.from({ length: n * k }, () => rng.normal() * 0.1);
      const g = new GraphBuilder('linear');
      const x = g.input('x', 'float32', ['batch', k]);
      g.output('y', g.linear(x, g.weight('w', hostTensor([n, k], w))));
      const compiled = await cpuNativeBackend.compile(g.build(), {
        device: 'cpu',
        threads: 2,
        quantization: { bits: 4, blockSize: 32 },
      });
      const wq = dequantizeNBits(quantizeNBits(w, n, k, { bits: 4, blockSize: 32 }), {
        bits: 4,
        blockSize: 32,
      });
      for (const rows of [1, 5]) {
        const input = Float32Array.from({ length: rows * k }, () => rng.normal());
        const y = (await compiled.run({ x: { dtype: 'float32', dims: [rows, k], data: input } }))['y']!.data;
        let worst = 0;
        for (let i = 0; i < rows; i++) {
          const xq = quantizedInput(input.subarray(i * k, (i + 1) * k));
          for (let r = 0; r < n; r++) {
            let ref = 0;
            for (let j = 0; j < k; j++) ref += wq[r * k + j]! * xq[j]!;
            worst = Math.max(worst, Math.abs(y[i * n + r]! - ref));
          }
        }
        expect(worst).toBeLessThan(1e-4);
      }
      await compiled.dispose();
    });
  }
});
