import { describe, expect, it } from 'vitest';
import type { TensorValue } from '../backends/backend.js';
import { onnxBackend } from '../backends/onnx/onnx-backend.js';
import { GraphBuilder } from '../graph/builder.js';
import { RwkvState, stateSlots } from '../state/rwkv-state.js';
import { hostTensor } from '../tensor/host-tensor.js';
import { BATCH, TIME } from './block-context.js';
import { addRwkvBlocks, stateInputName, stateOutputName } from './blocks.js';
import { randomRwkvWeights, SeededRandom } from './random-weights.js';

/**
 * The pattern the speech and time-series packages use: their own stem (here a linear
 * projection of F float features per frame) feeding the RWKV blocks, state carried by the
 * caller. Feeding a sequence chunk by chunk with state carried gives the whole-sequence
 * result.
 */
describe('RWKV blocks over a custom stem (streaming encoder pattern)', () => {
  it.each([
    5, 6, 7,
  ] as const)('RWKV-%i: chunked with carried state equals the whole sequence', async (version) => {
    const F = 12;
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 32, nVocab: 8, headSize: 16, dimFfn: 64 },
      4,
    );
    const rng = new SeededRandom(8);
    const b = new GraphBuilder('encoder');
    const frames = b.input('frames', 'float32', [BATCH, TIME, F]);
    const stem = b.weight(
      'stem.weight',
      hostTensor(
        [32, F],
        Float32Array.from({ length: 32 * F }, () => rng.normal() * 0.3),
      ),
    );
    const h = addRwkvBlocks(b, config, tensors, b.linear(frames, stem), TIME);
    b.output('hidden', h);
    const encoder = await onnxBackend.compile(b.build(), { device: 'cpu' });

    const T = 23;
    const input = Float32Array.from({ length: T * F }, () => rng.normal());
    const run = async (from: number, to: number, state: RwkvState) => {
      const feeds: Record<string, TensorValue> = {
        frames: { dtype: 'float32', dims: [1, to - from, F], data: input.slice(from * F, to * F) },
      };
      for (const s of stateSlots(config))
        feeds[stateInputName(s.layer, s.spec.name)] = {
          dtype: 'float32',
          dims: [1, ...s.spec.shape],
          data: state.get(s.layer, s.spec.name),
        };
      const out = await encoder.run(feeds);
      const next = new Map(
        stateSlots(config).map((s) => [
          s.key,
          out[stateOutputName(s.layer, s.spec.name)]!.data as Float32Array,
        ]),
      );
      return { hidden: out['hidden']!.data as Float32Array, state: RwkvState.fromArrays(config, 1, next) };
    };
    const whole = await run(0, T, RwkvState.create(config));
    let state = RwkvState.create(config);
    const pieces: Float32Array[] = [];
    for (const [from, to] of [
      [0, 1],
      [1, 8],
      [8, 9],
      [9, 23],
    ] as const) {
      const r = await run(from, to, state);
      pieces.push(r.hidden);
      state = r.state;
    }
    const chunked = Float32Array.from(pieces.flatMap((p) => Array.from(p)));
    let diff = 0;
    for (let i = 0; i < whole.hidden.length; i++)
      diff = Math.max(diff, Math.abs(whole.hidden[i]! - chunked[i]!));
    expect(diff).toBeLessThan(1e-4);
    await encoder.dispose();
  });
});
