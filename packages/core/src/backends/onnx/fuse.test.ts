import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../graph/builder.js';
import type { Graph } from '../../graph/ir.js';
import { SeededRandom } from '../../rwkv/random-weights.js';
import { lowerToOnnx } from './lower.js';
import { createOnnxSession } from './onnx-backend.js';
import { ModelProto, type OnnxGraph } from './onnx-schema.js';

/**
 * What the lowering rewrites (fuse.ts, peephole.ts) on a small graph holding each pattern:
 * the nodes written, and the values computed against a plain JavaScript reference, with
 * and without `cpuFusions`, at batch 1 and 2.
 */
const [H, N] = [3, 4];
const C = H * N;

function patterns(rng: SeededRandom): Graph {
  const b = new GraphBuilder('patterns');
  const vec = (name: string, shape: number[], lo = -1, hi = 1) => {
    const n = shape.reduce((p, q) => p * q, 1);
    const data = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
    return b.weight(name, { shape, data, storedAs: 'float32' });
  };
  const x = b.input('x', 'float32', ['batch', 1, C]);
  // Slices tiling an axis (-> one Split).
  const all = b.add(x, b.mul(x, vec('mix', [3, C])));
  const [p, q, r] = [0, 1, 2].map((i) => b.slice(all, 1, i, i + 1)) as [
    ReturnType<typeof b.add>,
    ReturnType<typeof b.add>,
    ReturnType<typeof b.add>,
  ];
  b.output('mixed', b.add(p, b.mul(q, r)));
  // A group norm with per-head affine from [C] weights (-> one LayerNormalization).
  const heads = b.reshape(x, ['batch', 1, H, N]);
  const w = b.reshape(vec('gn.weight', [C], 0.5, 1.5), [H, N]);
  const bias = b.reshape(vec('gn.bias', [C]), [H, N]);
  b.output('gn', b.add(b.mul(b.layerNorm(heads, null, null, 1e-5), w), bias));
  // A state read again after it is made (-> no Identity copy into the output).
  const s = b.input('s', 'float32', ['batch', 2, 2]);
  const s2 = b.mul(s, b.scalar(2));
  b.output('s_out', s2);
  b.output('s_sum', b.reduceSum(s2, [-1], true));
  // A Reshape of a Reshape (-> one Reshape).
  b.output('flat', b.reshape(b.reshape(x, ['batch', 1, H, N]), ['batch', C]));
  return b.build();
}

function opCounts(bytes: Uint8Array): Map<string, number> {
  const model = ModelProto.toObject(ModelProto.decode(bytes)) as { graph: OnnxGraph };
  const counts = new Map<string, number>();
  for (const n of model.graph.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

describe('ONNX lowering rewrites', () => {
  it('writes tiling slices as a Split, a per-head group norm as one LayerNormalization, no copies or dead nodes', () => {
    const graph = patterns(new SeededRandom(3));
    const fused = opCounts(lowerToOnnx(graph, { cpuFusions: true }));
    expect(fused.get('Split')).toBe(1);
    expect(fused.get('Slice')).toBeUndefined();
    expect(fused.get('LayerNormalization')).toBe(1);
    expect(fused.get('Identity')).toBeUndefined();
    // x to heads for the norm, the two [C] weights to [H, N], and 'flat' straight from x.
    expect(fused.get('Reshape')).toBe(4);
    const standard = opCounts(lowerToOnnx(graph));
    expect(standard.get('Split')).toBe(1);
    expect(standard.get('LayerNormalization')).toBe(1);
    expect(standard.get('Mul')! - fused.get('Mul')!).toBe(1);
    expect(standard.get('Add')! - fused.get('Add')!).toBe(1);
  });

  it.each([
    [1, true],
    [2, true],
    [2, false],
  ])('computes the same values (batch %i, cpuFusions %s)', async (batch, cpuFusions) => {
    const rng = new SeededRandom(3);
    const graph = patterns(rng);
    const weight = (name: string) => graph.initializers.get(name)!.tensor.data;
    const x = Float32Array.from({ length: batch * C }, () => rng.normal());
    const s = Float32Array.from({ length: batch * 4 }, () => rng.normal());
    const compiled = await createOnnxSession(
      lowerToOnnx(graph, { cpuFusions }),
      { device: 'cpu' },
      'patterns',
    );
    const out = await compiled.run({
      x: { dtype: 'float32', dims: [batch, 1, C], data: x },
      s: { dtype: 'float32', dims: [batch, 2, 2], data: s },
    });
    await compiled.dispose();

    const mix = weight('mix');
    const [gw, gb] = [weight('gn.weight'), weight('gn.bias')];
    const mixed: number[] = [];
    const gn: number[] = [];
    for (let bi = 0; bi < batch; bi++) {
      const xb = x.subarray(bi * C, (bi + 1) * C);
      const at = (i: number, c: number) => xb[c]! + xb[c]! * mix[i * C + c]!;
      for (let c = 0; c < C; c++) mixed.push(at(0, c) + at(1, c) * at(2, c));
      for (let h = 0; h < H; h++) {
        const row = Array.from(xb.subarray(h * N, (h + 1) * N));
        const mean = row.reduce((p, q) => p + q, 0) / N;
        const variance = row.reduce((p, q) => p + (q - mean) ** 2, 0) / N;
        row.forEach((v, j) => {
          gn.push(((v - mean) / Math.sqrt(variance + 1e-5)) * gw[h * N + j]! + gb[h * N + j]!);
        });
      }
    }
    const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5);
    };
    close(out['mixed']!.data, mixed);
    close(out['gn']!.data, gn);
    close(
      out['s_out']!.data,
      Array.from(s, (v) => 2 * v),
    );
    close(
      out['s_sum']!.data,
      Array.from({ length: batch * 2 }, (_, i) => 2 * (s[2 * i]! + s[2 * i + 1]!)),
    );
    close(out['flat']!.data, x);
    expect(out['flat']!.dims).toEqual([batch, C]);
  });
});
