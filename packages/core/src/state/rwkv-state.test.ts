import { describe, expect, it } from 'vitest';
import { BadStateError } from '../errors.js';
import { RwkvModel } from '../rwkv/model.js';
import { randomRwkvWeights } from '../rwkv/random-weights.js';
import { RwkvState, stateSlots } from './rwkv-state.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function sameState(a: RwkvState, b: RwkvState): number {
  let m = 0;
  for (const s of stateSlots(a.config))
    m = Math.max(m, maxAbsDiff(a.get(s.layer, s.spec.name), b.get(s.layer, s.spec.name)));
  return m;
}

const tokens = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) % 61);

describe.each([4, 5, 6, 7] as const)('RwkvState with RWKV-%i', (version) => {
  const { config, tensors } = randomRwkvWeights(
    { version, nLayer: 2, nEmbd: 32, nVocab: 61, headSize: 16, dimFfn: 64 },
    11 + version,
  );
  const model = new RwkvModel(config, tensors);

  it('serialize/restore round-trips exactly, and a restored stream continues identically', async () => {
    const a = await model.forward([tokens(9, 1)], model.createState());
    const bytes = a.state.serialize();
    const restored = RwkvState.deserialize(bytes, config);
    expect(sameState(a.state, restored)).toBe(0);
    const cont1 = await model.forward([tokens(5, 2)], a.state);
    const cont2 = await model.forward([tokens(5, 2)], restored);
    expect(maxAbsDiff(cont1.logits, cont2.logits)).toBe(0);
  });

  it('clone forks a stream: advancing the clone leaves the original untouched', async () => {
    const a = await model.forward([tokens(6, 3)], model.createState());
    const fork = a.state.clone();
    const before = a.state.serialize();
    await model.forward([tokens(4, 4)], fork);
    await model.forward([tokens(4, 4)], a.state);
    expect(a.state.serialize()).toEqual(before);
    expect(sameState(fork, a.state)).toBe(0);
  });

  it('unstack splits without copying: each stream equals select([i]), serializes alone and runs on', async () => {
    const batch = await model.forward([tokens(5, 30), tokens(5, 31), tokens(5, 32)], model.createState(3));
    const streams = batch.state.unstack();
    expect(streams).toHaveLength(3);
    streams.forEach((s, i) => {
      expect(s.batch).toBe(1);
      expect(sameState(s, batch.state.select([i]))).toBe(0);
      for (const name of version === 4 ? ['att_x', 'aa'] : ['att_x', 'ffn_x'])
        expect(s.get(1, name).buffer).toBe(batch.state.get(1, name).buffer); // a view
      // a view serializes to the stream's own bytes, and a backend reads it at its offset
      expect(RwkvState.deserialize(s.serialize(), config).serialize()).toEqual(s.serialize());
    });
    const [alone, viaView] = [
      await model.forward([tokens(4, 33)], batch.state.select([2])),
      await model.forward([tokens(4, 33)], streams[2]!),
    ];
    expect(maxAbsDiff(alone.logits, viaView.logits)).toBe(0);
  });

  it('a batch of N streams equals N single runs, and streams do not leak into each other', async () => {
    const N = 5;
    const starts = await Promise.all(
      Array.from({ length: N }, (_, i) => model.forward([tokens(3 + i, 10 + i)], model.createState())),
    );
    const inputs = Array.from({ length: N }, (_, i) => tokens(7, 20 + i));
    for (const mode of ['recurrent', 'sequence'] as const) {
      const batched = await model.forward(inputs, RwkvState.stack(starts.map((s) => s.state)), {
        mode,
        logits: 'all',
      });
      const perStream = batched.state.unstack();
      const V = config.nVocab;
      for (let i = 0; i < N; i++) {
        const single = await model.forward([inputs[i]!], starts[i]!.state, { mode, logits: 'all' });
        expect(maxAbsDiff(batched.logits.subarray(i * 7 * V, (i + 1) * 7 * V), single.logits)).toBeLessThan(
          1e-5,
        );
        expect(sameState(perStream[i]!, single.state)).toBeLessThan(1e-5);
      }
      // Cross-talk: change stream 0's input only; every other stream's output is bit-identical.
      const changed = [tokens(7, 99), ...inputs.slice(1)];
      const again = await model.forward(changed, RwkvState.stack(starts.map((s) => s.state)), {
        mode,
        logits: 'all',
      });
      expect(maxAbsDiff(again.logits.subarray(7 * V), batched.logits.subarray(7 * V))).toBe(0);
      expect(maxAbsDiff(again.logits.subarray(0, 7 * V), batched.logits.subarray(0, 7 * V))).toBeGreaterThan(
        0,
      );
    }
  });

  it('refuses a state of another model, a wrong batch, and corrupt bytes', async () => {
    const other = randomRwkvWeights({
      version,
      nLayer: 3,
      nEmbd: 32,
      nVocab: 61,
      headSize: 16,
      dimFfn: 64,
    }).config;
    await expect(model.forward([[1]], RwkvState.create(other))).rejects.toThrow(BadStateError);
    await expect(model.forward([[1], [2]], model.createState(1))).rejects.toThrow(
      /holds 1 streams, the input has 2/,
    );
    const bytes = model.createState().serialize();
    expect(() => RwkvState.deserialize(bytes.subarray(0, bytes.length - 4), config)).toThrow(
      /ends inside variable/,
    );
    expect(() => RwkvState.deserialize(new Uint8Array(20), config)).toThrow(/magic/);
    expect(() => RwkvState.deserialize(bytes, other)).toThrow(BadStateError);
  });
});
