import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../graph/builder.js';
import { SeededRandom } from '../../rwkv/random-weights.js';
import { hostTensor } from '../../tensor/host-tensor.js';
import { onnxBackend } from './onnx-backend.js';
import { dequantizeNBits, quantizeNBits } from './quantize-nbits.js';

function randomMatrix(n: number, k: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n * k }, () => rng.normal());
}

describe.each([4, 8] as const)('%i-bit block quantization for MatMulNBits', (bits) => {
  const q = { bits, blockSize: 32 };

  it('reconstructs each weight within half a quantization step, zeros exactly', () => {
    const [n, k] = [7, 80]; // K not a multiple of the block: the last block is padded
    const w = randomMatrix(n, k, 1);
    w[5] = 0;
    const back = dequantizeNBits(quantizeNBits(w, n, k, q), q);
    for (let row = 0; row < n; row++) {
      for (let blk = 0; blk * 32 < k; blk++) {
        const vals = Array.from(w.subarray(row * k + blk * 32, row * k + Math.min(k, blk * 32 + 32)));
        const step = (Math.max(0, ...vals) - Math.min(0, ...vals)) / ((1 << bits) - 1);
        for (let j = 0; j < vals.length; j++) {
          const i = row * k + blk * 32 + j;
          expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(step / 2 + 1e-6);
        }
      }
    }
    expect(back[5]).toBe(0);
  });

  it('onnxruntime MatMulNBits computes x @ dequant(W)^T with our packing', async () => {
    const [n, k] = [24, 96];
    const w = randomMatrix(n, k, 2);
    const b = new GraphBuilder('nbits');
    const x = b.input('x', 'float32', ['batch', k]);
    b.output('y', b.linear(x, b.weight('w', hostTensor([n, k], w))));
    const compiled = await onnxBackend.compile(b.build(), {
      device: 'cpu',
      quantization: { ...q, accuracyLevel: 1 },
    });
    const xs = randomMatrix(3, k, 3);
    const { y } = await compiled.run({ x: { dtype: 'float32', dims: [3, k], data: xs } });
    const deq = dequantizeNBits(quantizeNBits(w, n, k, q), q);
    let maxDiff = 0;
    for (let r = 0; r < 3; r++) {
      for (let o = 0; o < n; o++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += xs[r * k + i]! * deq[o * k + i]!;
        maxDiff = Math.max(maxDiff, Math.abs(acc - y!.data[r * n + o]!));
      }
    }
    expect(maxDiff).toBeLessThan(1e-3);
    await compiled.dispose();
  });
});
