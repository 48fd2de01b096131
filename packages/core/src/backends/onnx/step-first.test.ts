import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../errors.js';
import { buildRwkvGraph } from '../../rwkv/model-graph.js';
import { randomRwkvWeights, SeededRandom } from '../../rwkv/random-weights.js';
import type { TensorValue } from '../backend.js';
import { lowerToOnnx, lowerToOnnxStepFirst, SEQUENCE_PREFIX } from './lower.js';
import { createOnnxSession } from './onnx-session.js';
import { stepFirstGraph } from './step-first.js';

for (const version of [4, 5, 6, 7] as const) {
  const { config, tensors } = randomRwkvWeights(
    { version, nLayer: 2, nEmbd: 64, nVocab: 50, headSize: 32 },
    11,
  );
  const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
  const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });
  const outputs = seq.outputs.map((v) => v.name);
  const shared = step.inputs.map((v) => v.name);

  const stepFirstModel = () =>
    createOnnxSession(
      lowerToOnnxStepFirst(step, seq, 'tokens', { cpuFusions: true }),
      { device: 'cpu' },
      'step-first',
    );

  /** Feeds for `batch` streams of T tokens each, from a random (seeded) state. */
  function feeds(batch: number, T: number): Record<string, TensorValue> {
    const random = new SeededRandom(3);
    const next = () => (random.uniform() - 0.5) * 0.2;
    const f: Record<string, TensorValue> = {
      tokens: {
        dtype: 'int32',
        dims: [batch, T],
        data: Int32Array.from({ length: batch * T }, (_, i) => (i * 7 + 3) % 50),
      },
      logits_from: { dtype: 'int32', dims: [1], data: Int32Array.of(T - 1) },
    };
    for (const v of step.inputs) {
      if (v.name === 'tokens') continue;
      const dims = [batch, ...(v.shape.slice(1) as number[])];
      f[v.name] = {
        dtype: 'float32',
        dims,
        data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, next),
      };
    }
    return f;
  }

  describe(`the step-first model (RWKV-${version}): step at the top level, sequence inside an If`, () => {
    it.each([
      ['float32 weights', {}],
      [
        'int4 blocks (MatMulNBits, the step run on zero streams)',
        { quantization: { bits: 4, blockSize: 32 } },
      ],
      ['int8 blocks', { quantization: { bits: 8, blockSize: 64 } }],
    ] as const)('computes what the step and sequence graphs compute on their own, bit for bit, for each call length: %s', async (_, quantized) => {
      const lowering = { cpuFusions: true, ...quantized };
      const model = await createOnnxSession(
        lowerToOnnxStepFirst(step, seq, 'tokens', lowering),
        { device: 'cpu' },
        'step-first',
      );
      const graph = stepFirstGraph(model, 'tokens', shared, outputs);
      const alone = {
        step: await createOnnxSession(lowerToOnnx(step, lowering), { device: 'cpu' }, 'step'),
        seq: await createOnnxSession(lowerToOnnx(seq, lowering), { device: 'cpu' }, 'seq'),
      };
      for (const [batch, T] of [
        [1, 1],
        [3, 1],
        [1, 5],
        [2, 17],
      ] as const) {
        const f = feeds(batch, T);
        const got = await graph.run(f);
        const want =
          T === 1
            ? await alone.step.run(Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'logits_from')))
            : await alone.seq.run(f);
        expect(Object.keys(got).sort()).toEqual([...outputs].sort());
        for (const name of outputs) {
          expect(got[name]!.dims, `${name} at batch ${batch}, T ${T}`).toEqual(want[name]!.dims);
          expect(got[name]!.data, `${name} at batch ${batch}, T ${T}`).toEqual(want[name]!.data);
        }
      }
      for (const g of [graph, alone.step, alone.seq]) await g.dispose();
    });

    it('skips the sequence graph when its tokens are empty, and runs the step on zero streams when a sequence call gives it none', async () => {
      const model = await stepFirstModel();
      const f = feeds(2, 1);
      const decode = await model.run({
        ...f,
        ...Object.fromEntries(shared.map((name) => [`${SEQUENCE_PREFIX}${name}`, f[name]!])),
        [`${SEQUENCE_PREFIX}tokens`]: { dtype: 'int32', dims: [2, 0], data: new Int32Array(0) },
      });
      for (const name of outputs) {
        expect(decode[`${SEQUENCE_PREFIX}${name}`]!.data.length, name).toBe(0);
        expect(decode[name]!.data.length, name).toBeGreaterThan(0);
      }
      // a sequence call: the step gets zero streams, so all its outputs are empty
      const g = feeds(2, 6);
      const zeroStreams = (v: TensorValue): TensorValue => ({
        ...v,
        dims: [0, ...v.dims.slice(1)],
        data: v.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0),
      });
      const prefill = await model.run({
        ...g,
        ...Object.fromEntries(shared.map((name) => [`${SEQUENCE_PREFIX}${name}`, g[name]!])),
        ...Object.fromEntries(shared.map((name) => [name, zeroStreams(g[name]!)])),
        tokens: { dtype: 'int32', dims: [0, 1], data: new Int32Array(0) },
      });
      for (const name of outputs) {
        expect(prefill[name]!.data.length, name).toBe(0);
        expect(prefill[`${SEQUENCE_PREFIX}${name}`]!.data.length, name).toBeGreaterThan(0);
      }
      await model.dispose();
    });

    it('says which input is wrong when the tokens are missing or hold no time step', async () => {
      const model = await stepFirstModel();
      const graph = stepFirstGraph(model, 'tokens', shared, outputs);
      const { tokens: _, ...noTokens } = feeds(1, 1);
      await expect(graph.run(noTokens)).rejects.toThrow(BadInputError);
      await expect(
        graph.run({ ...feeds(1, 1), tokens: { dtype: 'int32', dims: [1, 0], data: new Int32Array(0) } }),
      ).rejects.toThrow(/'tokens' must be \[batch, time\] with time >= 1, got \[1, 0\]/);
      await graph.dispose();
    });
  });
}
