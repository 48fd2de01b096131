import { describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.js';
import { onnxBackend } from '../backends/onnx/onnx-backend.js';
import { registerBackend, registeredBackends } from '../backends/registry.js';
import { BackendUnavailableError, BadInputError, DisposedError } from '../errors.js';
import { RwkvModel } from './model.js';
import { buildRwkvGraph } from './model-graph.js';
import { randomRwkvWeights } from './random-weights.js';

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: 2, nEmbd: 32, nVocab: 40, headSize: 16, dimFfn: 64 },
  5,
);

describe('RwkvModel', () => {
  it("'last' logits equal the last row of 'all' logits, in both modes", async () => {
    const model = new RwkvModel(config, tensors);
    const tokens = [3, 1, 4, 1, 5, 9, 2, 6];
    for (const mode of ['recurrent', 'sequence'] as const) {
      const all = await model.forward([tokens], model.createState(), { mode, logits: 'all' });
      const last = await model.forward([tokens], model.createState(), { mode, logits: 'last' });
      expect(all.positions).toBe(8);
      expect(last.positions).toBe(1);
      const tail = all.logits.subarray(7 * 40);
      for (let i = 0; i < 40; i++) expect(Math.abs(tail[i]! - last.logits[i]!)).toBeLessThan(1e-5);
    }
    await model.dispose();
  });

  it('float16 weight storage stays within half-precision error of float32', async () => {
    const f32 = new RwkvModel(config, tensors);
    const f16 = new RwkvModel(config, tensors, { weightDType: 'float16' });
    const tokens = [[7, 8, 9, 10, 11]];
    const a = await f32.forward(tokens, f32.createState(), { logits: 'all' });
    const b = await f16.forward(tokens, f16.createState(), { logits: 'all' });
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.logits.length; i++) {
      diff = Math.max(diff, Math.abs(a.logits[i]! - b.logits[i]!));
      scale = Math.max(scale, Math.abs(a.logits[i]!));
    }
    console.log(
      `fp16 weights: max |logit diff| ${diff.toExponential(2)} on logits up to ${scale.toFixed(2)}`,
    );
    expect(diff).toBeGreaterThan(0); // the weights really were stored in half precision
    expect(diff / scale).toBeLessThan(5e-3);
    await Promise.all([f32.dispose(), f16.dispose()]);
  });

  it('rejects bad tokens and ragged batches with typed errors naming the position', async () => {
    const model = new RwkvModel(config, tensors);
    await expect(model.forward([[1, 40]], model.createState())).rejects.toThrow(
      /token 40 at stream 0, position 1/,
    );
    await expect(model.forward([[1, 2], [3]], model.createState(2))).rejects.toThrow(BadInputError);
    await expect(model.forward([[0.5]], model.createState())).rejects.toThrow(BadInputError);
    await expect(model.forward([], model.createState())).rejects.toThrow(/at least one stream/);
    await expect(model.forward([[]], model.createState())).rejects.toThrow(/at least one token/);
    await model.dispose();
    await expect(model.forward([[1]], model.createState())).rejects.toThrow(DisposedError);
  });

  it('bfloat16 weights are refused by the onnxruntime backend with a typed error', async () => {
    const model = new RwkvModel(config, tensors, { device: 'cpu', weightDType: 'bfloat16' });
    await expect(model.forward([[1]], model.createState())).rejects.toThrow(BadInputError);
    await expect(model.forward([[1]], model.createState())).rejects.toThrow(/use 'float16' or device 'cuda'/);
    await model.dispose();
  });

  it('a device that cannot start gives a typed error, and dispose still succeeds', async () => {
    // No WebGPU adapter on a CPU-only machine; where one exists the forward succeeds.
    const model = new RwkvModel(config, tensors, { device: 'webgpu' });
    const result = await model.forward([[1, 2]], model.createState()).then(
      () => 'ran',
      (err: unknown) => err,
    );
    if (result !== 'ran') expect(result).toBeInstanceOf(BackendUnavailableError);
    await expect(model.dispose()).resolves.toBeUndefined();
  });

  it('runs on a backend without compileByTime (two compiled graphs) exactly as on onnxruntime', async () => {
    const tokens = [[3, 1, 4, 1, 5, 9]];
    const reference = new RwkvModel(config, tensors, { device: 'cpu' });
    const expected = await reference.forward(tokens, reference.createState(), { logits: 'all' });
    let compiled = 0;
    const plain: Backend = {
      name: 'onnx-two-graphs',
      devices: ['cpu'],
      compile: (g, o) => {
        compiled++;
        return onnxBackend.compile(g, o);
      },
    };
    registerBackend(plain);
    try {
      const model = new RwkvModel(config, tensors, { device: 'cpu' });
      for (const mode of ['recurrent', 'sequence'] as const) {
        const got = await model.forward(tokens, model.createState(), { mode, logits: 'all' });
        let diff = 0;
        for (let i = 0; i < got.logits.length; i++)
          diff = Math.max(diff, Math.abs(got.logits[i]! - expected.logits[i]!));
        expect(diff).toBeLessThan(1e-5);
      }
      expect(compiled).toBe(2); // the recurrent and the sequence graph, each once
      await model.dispose();
    } finally {
      registerBackend(onnxBackend); // the most recently registered backend serves 'cpu'
      await reference.dispose();
    }
  });

  it('says how many bytes the backend holds: every weight once, quantized ones at their quantized size', async () => {
    // big enough that the weights, not the graph, make up the serialized model
    const big = randomRwkvWeights({ version: 7, nLayer: 2, nEmbd: 256, nVocab: 4096, headSize: 64 }, 3);
    // the weights as the graphs hold them (mixes stacked, LoRAs in Linear layout; the step's
    // LoRAs folded into three Linears, as onnxruntime asks for), each once
    const graphs = (['recurrent', 'sequence'] as const).map((mode) =>
      buildRwkvGraph(big.config, big.tensors, {
        mode,
        blocks: { mergeStepLoras: mode === 'recurrent' && onnxBackend.prefersFewerNodes === true },
      }),
    );
    const inits = new Map(graphs.flatMap((g) => [...g.initializers]));
    const nodes = graphs.flatMap((g) => g.nodes);
    let all = 0;
    let quantized = 0;
    for (const [name, init] of inits) {
      const bytes = init.tensor.data.length * 4;
      all += bytes;
      const users = nodes.filter((n) => n.inputs.some((v) => v.name === name));
      if (
        init.tensor.shape.length === 2 &&
        users.every((n) => n.op === 'Linear' && n.inputs[1]!.name === name)
      ) {
        const [n, k] = init.tensor.shape as [number, number];
        const blocks = Math.ceil(k / 32);
        quantized += n * blocks * (16 + 4) + n * Math.ceil(blocks / 2); // codes, scales, zero points
      } else quantized += bytes;
    }
    // onnxruntime's figures (int4 is a CPU-backend option), whatever device the suite defaults to
    const fp32 = new RwkvModel(big.config, big.tensors, { device: 'cpu' });
    const int4 = new RwkvModel(big.config, big.tensors, { device: 'cpu', quantization: 'int4' });
    const graphBytes = 2 ** 20;
    const f = (await fp32.modelBytes())!;
    const q = (await int4.modelBytes())!;
    expect(f).toBeGreaterThanOrEqual(all);
    expect(f).toBeLessThan(all + graphBytes);
    expect(q).toBeGreaterThanOrEqual(quantized);
    expect(q).toBeLessThan(quantized + graphBytes);
    await fp32.dispose();
    await int4.dispose();
    await expect(int4.modelBytes()).rejects.toThrow(DisposedError);
  });

  // (When the suite runs with the CUDA backend imported, 'cuda' has a backend.)
  it.skipIf(registeredBackends().includes('cuda'))(
    'names what is missing when a device has no backend',
    () => {
      expect(() => new RwkvModel(config, tensors, { device: 'cuda' })).toThrow(BackendUnavailableError);
      expect(() => new RwkvModel(config, tensors, { device: 'cuda' })).toThrow(/@rwkv-streams\/cuda/);
    },
  );
});
