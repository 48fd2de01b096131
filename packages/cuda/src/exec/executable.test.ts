import { buildRwkvGraph, randomRwkvWeights, type TensorValue } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { createCudaBackend } from '../backend/cuda-backend.js';
import { probeGpu } from '../driver/probe.js';
import type { CudaExecutable } from './executable.js';
import { shapeScalars } from './executable.js';

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: 2, nEmbd: 128, nVocab: 50, headSize: 64 },
  3,
);
const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });

describe('plan keys', () => {
  it('take host values only of the inputs that decide shapes', () => {
    expect([...shapeScalars(seq)]).toEqual(['logits_from']);
    // One stream's token is an int32 [1] input too: it must not key plans.
    expect([...shapeScalars(step)]).toEqual([]);
  });

  it.skipIf(!probeGpu().ok)('one plan serves every token of a decode step (GPU)', async () => {
    const exe = (await createCudaBackend().compile(step, { device: 'cuda' })) as CudaExecutable;
    const feeds = (token: number): Record<string, TensorValue> => {
      const out: Record<string, TensorValue> = {};
      for (const v of step.inputs) {
        const dims = v.shape.map((d) => (typeof d === 'number' ? d : 1));
        const n = dims.reduce((a, b) => a * b, 1);
        out[v.name] =
          v.dtype === 'int32'
            ? { dtype: 'int32', dims, data: Int32Array.of(token) }
            : { dtype: 'float32', dims, data: new Float32Array(n) };
      }
      return out;
    };
    const first = exe.planFor(feeds(1));
    expect(exe.planFor(feeds(2))).toBe(first);
    expect(exe.planFor(feeds(49))).toBe(first);
    await exe.dispose();
  });
});

// Inputs of one call at [batch, t] with warm (nonzero) states, deterministic.
const feedsOf = (graph: typeof seq, batch: number, t: number): Record<string, TensorValue> => {
  const out: Record<string, TensorValue> = {};
  for (const v of graph.inputs) {
    if (v.name === 'logits_from') {
      out[v.name] = { dtype: 'int32', dims: [1], data: Int32Array.of(t - 1) };
      continue;
    }
    const dims = v.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : t));
    const n = dims.reduce((a, b) => a * b, 1);
    out[v.name] =
      v.dtype === 'int32'
        ? { dtype: 'int32', dims, data: Int32Array.from({ length: n }, (_, i) => (i * 17 + 3) % 50) }
        : {
            dtype: 'float32',
            dims,
            data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5),
          };
  }
  return out;
};

describe('lanes', () => {
  it.skipIf(!probeGpu().ok)(
    'a plan spread over 4 lanes computes what one lane does, bit for bit, eager and replayed (GPU)',
    async () => {
      for (const [graph, batch, t] of [
        [seq, 3, 40],
        [step, 5, 1],
      ] as const) {
        const one = (await createCudaBackend({ lanes: 1 }).compile(graph, {
          device: 'cuda',
        })) as CudaExecutable;
        const four = (await createCudaBackend({ lanes: 4 }).compile(graph, {
          device: 'cuda',
        })) as CudaExecutable;
        const feeds = feedsOf(graph, batch, t);
        expect(one.planFor(feeds).schedule.lanesUsed).toBe(1);
        expect(four.planFor(feeds).schedule.lanesUsed).toBeGreaterThan(1);
        // three calls: eager, recorded as a CUDA graph, replayed
        for (let call = 0; call < 3; call++) {
          const [a, b] = [await one.run(feeds), await four.run(feeds)];
          for (const name of Object.keys(a))
            expect(b[name]!.data, `${name}, call ${call}`).toEqual(a[name]!.data);
        }
        await one.dispose();
        await four.dispose();
      }
    },
  );
});

/**
 * Every RWKV-7 case of the fusion tests (float32 and float16 weights; a sequence call of
 * [3, 40] and a decode step of 64 streams) planned with `option` off and on: units of `kind`
 * appear only when it is on (`count` of them, when given), and three calls of each (eager,
 * recorded, replayed) give outputs that `same` accepts.
 */
async function offAgainstOn(
  option: 'fuseSiblings' | 'fuseRows',
  kind: 'fusedMany' | 'rowFused',
  same: (off: Float32Array, on: Float32Array, weightDType: 'float32' | 'float16', what: string) => void,
  count?: number,
): Promise<void> {
  for (const weightDType of ['float32', 'float16'] as const)
    for (const [batch, t] of [
      [3, 40],
      [64, 1],
    ] as const) {
      const graph = t === 1 ? step : seq;
      const opts = { device: 'cuda' as const, weightDType };
      // row kernels taking their elementwise siblings (the default) leave a decode step no
      // sibling groups to merge: the sibling test plans without them
      const pinned = option === 'fuseSiblings' ? { fuseRowSiblings: false } : {};
      const off = (await createCudaBackend({ ...pinned, [option]: false }).compile(
        graph,
        opts,
      )) as CudaExecutable;
      const on = (await createCudaBackend({ ...pinned, [option]: true }).compile(
        graph,
        opts,
      )) as CudaExecutable;
      const feeds = feedsOf(graph, batch, t);
      expect(off.planFor(feeds).units.some((u) => u.kind === kind)).toBe(false);
      const made = on.planFor(feeds).units.filter((u) => u.kind === kind).length;
      if (count === undefined) expect(made).toBeGreaterThan(0);
      else expect(made).toBe(count);
      for (let call = 0; call < 3; call++) {
        const [a, b] = [await off.run(feeds), await on.run(feeds)];
        for (const name of Object.keys(a))
          same(
            a[name]!.data as Float32Array,
            b[name]!.data as Float32Array,
            weightDType,
            `${weightDType} [${batch}, ${t}] ${name}, call ${call}`,
          );
      }
      await off.dispose();
      await on.dispose();
    }
}

describe('sibling fusion', () => {
  it.skipIf(!probeGpu().ok)(
    'merged elementwise kernels compute what separate ones do, bit for bit, float32 and float16 weights (GPU)',
    () => offAgainstOn('fuseSiblings', 'fusedMany', (off, on, _, what) => expect(on, what).toEqual(off)),
  );
});

describe('row fusion', () => {
  it.skipIf(!probeGpu().ok)(
    'row-fused kernels compute what separate ones do within 1e-5 (sums reordered), float32 and float16 weights, eager and replayed (GPU)',
    // The row kernel sums in 32 lane partials and a shuffle tree, the ReduceSum kernel in
    // float4 partials: float32 sums of 64 terms reordered differ by a few ulps of the
    // terms' magnitude (~1e-6 relative here), carried through the norm and the Wkv7 state;
    // 1e-5 of max(1, |x|) bounds that with room. float16 results round the same values, a
    // rounding boundary crossed by such an error moves a value by one half ulp (~5e-4).
    () =>
      offAgainstOn(
        'fuseRows',
        'rowFused',
        (x, y, weightDType, what) => {
          const tol = weightDType === 'float16' ? 1e-3 : 1e-5;
          expect(y.length).toBe(x.length);
          let worst = 0;
          for (let i = 0; i < x.length; i++)
            worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (tol * Math.max(1, Math.abs(x[i]!))));
          expect(worst, what).toBeLessThanOrEqual(1);
        },
        4,
      ),
  );
});
