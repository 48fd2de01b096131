import {
  BadInputError,
  buildRwkvGraph,
  type CompiledGraph,
  type CompileOptions,
  DisposedError,
  hostSession,
  LOGITS_FROM,
  onnxBackend,
  RwkvModel,
  randomRwkvWeights,
  registerBackend,
  stateCarry,
  stateSlots,
  type TensorValue,
  zeroStateValues,
} from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuNativeBackend } from './backend.js';
import { emitLibrary } from './codegen/emit-graph.js';
import { haveCCompiler } from './compiler/c-compiler.js';

const small = (seed = 3) => randomRwkvWeights({ version: 7, nLayer: 2, nEmbd: 128, nVocab: 256 }, seed);

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Tokens [batch, time] and the start of the logits asked for. */
const feeds = (batch: number, time: number, from: number, seed = 0): Record<string, TensorValue> => ({
  tokens: {
    dtype: 'int32',
    dims: [batch, time],
    data: Int32Array.from({ length: batch * time }, (_, i) => (i * 37 + seed * 11 + 5) % 256),
  },
  [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(from) },
});

/** Runs every graph from a non-zero state (a first call) so that the state inputs matter. */
async function twoCalls(graph: CompiledGraph, config: ReturnType<typeof small>['config'], batch: number) {
  const s = hostSession(graph, stateCarry(config), zeroStateValues(config, batch));
  await s.run(feeds(batch, 3, 0, 1));
  const out = await s.run(feeds(batch, 7, 0, 2));
  const last = await s.run(feeds(batch, 5, 4, 3));
  return { out, last, state: await s.read() };
}

describe.skipIf(!haveCCompiler())('cpu-native sequence graphs and sessions', () => {
  afterAll(() => registerBackend(onnxBackend));

  it('runs an RWKV-7 sequence graph as onnxruntime does (float32, 2 streams, T = 3, 7, 5): within 2e-5', async () => {
    const { config, tensors } = small();
    const graph = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const options: CompileOptions = { device: 'cpu', threads: 2 };
    const native = await cpuNativeBackend.compile(graph, options);
    const ort = await onnxBackend.compile(graph, options);
    const a = await twoCalls(native, config, 2);
    const b = await twoCalls(ort, config, 2);
    // every position's logits (logits_from 0), then the last one only (logits_from T - 1)
    expect(a.out['logits']!.dims).toEqual([2, 7, 256]);
    expect(a.last['logits']!.dims).toEqual([2, 1, 256]);
    // measured 2.9e-6 / 1.9e-6 / 1.9e-6: float32 sums in another order
    expect(maxDiff(a.out['logits']!.data, b.out['logits']!.data)).toBeLessThan(2e-5);
    expect(maxDiff(a.last['logits']!.data, b.last['logits']!.data)).toBeLessThan(2e-5);
    for (const k of Object.keys(b.state))
      expect(maxDiff(a.state[k]!.data, b.state[k]!.data)).toBeLessThan(2e-5);
    await native.dispose();
    await ort.dispose();
  });

  it('reuses node buffers: a sequence graph holds far fewer buffers than it has node outputs', () => {
    const { config, tensors } = small();
    const graph = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const outputs = graph.nodes.reduce((n, node) => n + node.outputs.length, 0);
    const [entry] = emitLibrary([graph]).graphs;
    // measured 43 buffers for 193 node outputs (2 layers): storage is reused by size once a
    // barrier has passed its last reader
    expect(entry!.buffers).toBeLessThan(outputs / 4);
  });

  it('a model holds its weights once: step and sequence graphs in one library', async () => {
    const { config, tensors } = small();
    const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
    const sequence = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    let sequenceOnly = 0;
    for (const [name, init] of sequence.initializers)
      if (!step.initializers.has(name)) sequenceOnly += 4 * init.tensor.data.length;
    expect(sequenceOnly).toBe(6144);
    for (const quantization of [undefined, { bits: 4 as const, blockSize: 32 }]) {
      const options: CompileOptions = { device: 'cpu', ...(quantization ? { quantization } : {}) };
      const both = await cpuNativeBackend.compileByTime!(step, sequence, 'tokens', options);
      const alone = await cpuNativeBackend.compile(step, options);
      // beyond the step's weights only the sequence's own small ones (its token-shift mixes one
      // [1, 1, C] each where the step stacks them [6, C]): 6 KB here, quantized or not
      expect(both.modelBytes! - alone.modelBytes!).toBe(sequenceOnly);
      await both.dispose();
      await alone.dispose();
    }
  });

  it('int4: a model prefills as it decodes (sequence == recurrent within 1e-4), both compiled', async () => {
    registerBackend(cpuNativeBackend);
    const { config, tensors } = small(5);
    const model = new RwkvModel(config, tensors, { threads: 2, quantization: 'int4' });
    const prompt = [5, 17, 200, 3, 99, 42, 7];
    const rec = await model.forward([prompt, prompt.toReversed()], model.createState(2), {
      mode: 'recurrent',
      logits: 'all',
    });
    const seq = await model.forward([prompt, prompt.toReversed()], model.createState(2), {
      mode: 'sequence',
      logits: 'all',
    });
    // each input row is quantized by itself either way: the same codes, sums in another order
    expect(maxDiff(rec.logits, seq.logits)).toBeLessThan(1e-4);
    for (const s of stateSlots(config))
      expect(maxDiff(rec.state.get(s.layer, s.spec.name), seq.state.get(s.layer, s.spec.name))).toBeLessThan(
        1e-4,
      );
    await model.dispose();
    registerBackend(onnxBackend);
  });

  it('a session keeps its state in the library: as the host session, logits into the given array', async () => {
    const { config, tensors } = small(7);
    const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
    const sequence = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const options: CompileOptions = { device: 'cpu', threads: 2 };
    const native = await cpuNativeBackend.compileByTime!(step, sequence, 'tokens', options);
    expect(native.openSession).toBeDefined();
    const ours = await native.openSession!(stateCarry(config), zeroStateValues(config, 2));
    const host = hostSession(native, stateCarry(config), zeroStateValues(config, 2));
    const into = new Float32Array(2 * 256);
    const calls = [
      feeds(2, 6, 5, 1),
      feeds(2, 1, 0, 2),
      feeds(2, 1, 0, 3),
      feeds(2, 4, 3, 4),
      feeds(2, 1, 0, 5),
    ];
    for (const f of calls) {
      const x = await ours.run(f, { logits: into });
      const y = await host.run(f);
      expect(x['logits']!.data).toBe(into);
      expect(maxDiff(into, y['logits']!.data)).toBe(0);
    }
    const before = await ours.read();
    const hostState = await host.read();
    for (const k of Object.keys(hostState)) expect(maxDiff(before[k]!.data, hostState[k]!.data)).toBe(0);
    // a bad token fails its call by name and leaves the state as it was
    const bad = feeds(2, 1, 0);
    (bad['tokens']!.data as Int32Array)[1] = 999;
    await expect(ours.run(bad)).rejects.toThrow(/index 999 at position 1 of 'tokens' is outside 0\.\.255/);
    const after = await ours.read();
    for (const k of Object.keys(before)) expect(maxDiff(after[k]!.data, before[k]!.data)).toBe(0);
    // read() hands out copies: changing one does not reach the session
    (after['state.0.att_x']!.data as Float32Array).fill(7);
    expect(maxDiff((await ours.read())['state.0.att_x']!.data, before['state.0.att_x']!.data)).toBe(0);
    // an `into` of the wrong size is refused by name
    await expect(ours.run(feeds(2, 1, 0), { logits: new Float32Array(5) })).rejects.toThrow(/logits/);
    await ours.dispose();
    await expect(ours.run(feeds(2, 1, 0))).rejects.toThrow(DisposedError);
    await native.dispose();
  });

  it('refuses a logits_from outside the call and a time axis of 0, by name', async () => {
    const { config, tensors } = small();
    const graph = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const native = await cpuNativeBackend.compile(graph, { device: 'cpu' });
    const s = hostSession(native, stateCarry(config), zeroStateValues(config, 1));
    await expect(s.run(feeds(1, 4, 4))).rejects.toThrow(BadInputError);
    await expect(s.run(feeds(1, 4, -1))).rejects.toThrow(/'logits_from' is -1: it must be in 0\.\.3/);
    await expect(s.run(feeds(1, 0, 0))).rejects.toThrow(/at least one time step/);
    // the session is unharmed
    expect((await s.run(feeds(1, 4, 3)))['logits']!.dims).toEqual([1, 1, 256]);
    await native.dispose();
  });
});
