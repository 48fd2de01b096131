import { describe, expect, it } from 'vitest';
import { onnxBackend } from '../backends/onnx/onnx-backend.js';
import { MissingTensorError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { stateInputName } from './blocks.js';
import { buildRwkvGraph } from './model-graph.js';
import { randomRwkvWeights } from './random-weights.js';
import { rwkv7 } from './v7.js';

const sizes = { version: 7, nLayer: 3, nEmbd: 64, nVocab: 97, headSize: 16, dimFfn: 128 } as const;

function linears(g: Graph): number {
  return g.nodes.filter((n) => n.op === 'Linear').length;
}

/** Seeded values in [-scale, scale). */
function noise(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 2 * scale;
  }
  return out;
}

describe('RWKV-7 step LoRAs as three Linears (mergeStepLoras)', () => {
  const { config, tensors } = randomRwkvWeights(sizes, 11);
  const separate = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
  const merged = buildRwkvGraph(config, tensors, { mode: 'recurrent', blocks: { mergeStepLoras: true } });

  it('writes 3 LoRA products a layer instead of 8 (6 at layer 0, which has no value gate)', () => {
    // per layer: r, k, v, output, FFN key and value; plus the head
    const plain = config.nLayer * 6 + 1;
    expect(linears(separate)).toBe(plain + 6 + 8 * (config.nLayer - 1));
    expect(linears(merged)).toBe(plain + 3 * config.nLayer);
  });

  it('leaves sequence graphs as they are', () => {
    const a = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const b = buildRwkvGraph(config, tensors, { mode: 'sequence', blocks: { mergeStepLoras: true } });
    expect(b.nodes.map((n) => n.op)).toEqual(a.nodes.map((n) => n.op));
  });

  it('computes what the eight products compute: logits and every state within 2e-5', async () => {
    const feeds: Record<
      string,
      { dtype: 'float32' | 'int32'; dims: number[]; data: Float32Array | Int32Array }
    > = {
      tokens: { dtype: 'int32', dims: [2, 1], data: Int32Array.of(5, 90) },
    };
    // a state that is not zero, so the token shift and the WKV state both matter
    let seed = 3;
    for (let layer = 0; layer < config.nLayer; layer++)
      for (const s of rwkv7.layerState(config)) {
        const n = 2 * s.shape.reduce((p, d) => p * d, 1);
        feeds[stateInputName(layer, s.name)] = {
          dtype: 'float32',
          dims: [2, ...s.shape],
          data: noise(n, seed++, 1),
        };
      }
    const [a, b] = await Promise.all([
      onnxBackend.compile(separate, { device: 'cpu', threads: 1 }),
      onnxBackend.compile(merged, { device: 'cpu', threads: 1 }),
    ]);
    const [outA, outB] = await Promise.all([a.run(feeds), b.run(feeds)]);
    expect(Object.keys(outB).sort()).toEqual(Object.keys(outA).sort());
    let worst = 0;
    for (const [name, value] of Object.entries(outA)) {
      const other = outB[name]!.data;
      for (let i = 0; i < value.data.length; i++)
        worst = Math.max(worst, Math.abs(value.data[i]! - other[i]!));
    }
    console.log(`merged vs separate step LoRAs: max |diff| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-5);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('names the missing value-residual LoRA of a later layer', () => {
    const without = new Map(tensors);
    without.delete('blocks.2.att.v1');
    let caught: unknown;
    try {
      buildRwkvGraph(config, without, { mode: 'recurrent', blocks: { mergeStepLoras: true } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MissingTensorError);
    expect((caught as MissingTensorError).field).toBe('blocks.2.att.v1');
  });
});
