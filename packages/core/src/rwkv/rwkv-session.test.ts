import { describe, expect, it } from 'vitest';
import { BadInputError, DisposedError } from '../errors.js';
import { drawToken } from '../lm/token-draw.js';
import { RwkvModel } from './model.js';
import { randomRwkvWeights } from './random-weights.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each([5, 7] as const)('RwkvSession (RWKV-%i): state kept in the backend', (version) => {
  it('gives the logits and state of forward calls, and leaves the opening state untouched', async () => {
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 64, nVocab: 50, headSize: 32 },
      9,
    );
    const model = new RwkvModel(config, tensors);
    const start = (
      await model.forward(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        model.createState(2),
      )
    ).state;
    const before = start.serialize();
    const session = await model.openSession(start);
    let state = start;
    const calls = [
      [
        [7, 8, 9, 10],
        [11, 12, 13, 14],
      ],
      [[15], [16]],
      [[17], [18]],
      [
        [19, 20],
        [21, 22],
      ],
    ];
    for (const tokens of calls) {
      const want = await model.forward(tokens, state, { logits: 'all' });
      const got = await session.forward(tokens, { logits: 'all' });
      expect(got.positions).toBe(tokens[0]!.length);
      expect(maxAbsDiff(got.logits, want.logits)).toBeLessThan(1e-5);
      state = want.state;
    }
    const read = await session.state();
    for (let l = 0; l < config.nLayer; l++)
      for (const name of ['att_x', 'wkv', 'ffn_x'])
        expect(maxAbsDiff(read.get(l, name), state.get(l, name))).toBeLessThan(1e-5);
    expect(start.serialize()).toEqual(before);
    // logits written into a caller's array: the same values, that array returned
    const into = new Float32Array(2 * 50);
    const fork = await model.openSession(state);
    const plain = await fork.forward([[3], [4]]);
    const again = await session.forward([[3], [4]], { into });
    expect(again.logits).toBe(into);
    expect(maxAbsDiff(again.logits, plain.logits)).toBe(0);
    await expect(session.forward([[3], [4]], { into: new Float32Array(99) })).rejects.toThrow(
      /'into' holds 99 floats; the logits of 2 streams x 1 positions x 50 are 100/,
    );
    await expect(
      session.forward(
        [
          [3, 4],
          [5, 6],
        ],
        { logits: 'all', into },
      ),
    ).rejects.toThrow(BadInputError);
    await fork.dispose();
    await expect(session.forward([[1]])).rejects.toThrow(BadInputError); // one stream for two
    await expect(session.forward([[1], [99]])).rejects.toThrow(/outside 0..49/);
    await session.dispose();
    await expect(session.forward([[1], [2]])).rejects.toThrow(DisposedError);
    await model.dispose();
  });
  it('a session of fresh streams (openSession(n): zeros made by the backend) runs as one from createState(n)', async () => {
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 64, nVocab: 50, headSize: 32 },
      4,
    );
    const model = new RwkvModel(config, tensors);
    const fresh = await model.openSession(2);
    const ref = await model.openSession(model.createState(2));
    const tokens = [
      [5, 6, 7],
      [8, 9, 10],
    ];
    const a = await fresh.forward(tokens, { logits: 'all' });
    const b = await ref.forward(tokens, { logits: 'all' });
    expect(maxAbsDiff(a.logits, b.logits)).toBe(0);
    const want = await model.forward(tokens, model.createState(2), { logits: 'all' });
    expect(maxAbsDiff(a.logits, want.logits)).toBeLessThan(1e-5);
    for (const bad of [0, -1, 1.5, Number.NaN])
      await expect(model.openSession(bad)).rejects.toThrow(BadInputError);
    await fresh.dispose();
    await ref.dispose();
    await model.dispose();
  });

  it('generate draws what forward calls and the host draw rule give, and continues across calls', async () => {
    const V = 50;
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 64, nVocab: V, headSize: 32 },
      11,
    );
    const model = new RwkvModel(config, tensors);
    const warm = (
      await model.forward(
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        model.createState(3),
      )
    ).state;
    for (const temperature of [0, 0.8]) {
      const seed = 77;
      // the rule spelled out: forward one token a stream, draw each stream's next on the host
      const ref = await model.openSession(warm);
      let fed = [7, 8, 9];
      const want: number[][] = [[], [], []];
      for (let s = 0; s < 6; s++) {
        const { logits } = await ref.forward(fed.map((t) => [t]));
        fed = fed.map((_, b) => drawToken(logits.subarray(b * V, (b + 1) * V), temperature, seed, b, s));
        fed.forEach((t, b) => {
          want[b]!.push(t);
        });
      }
      const one = await model.openSession(warm);
      const got = await one.generate([7, 8, 9], { steps: 6, temperature, seed });
      expect(got.map((t) => [...t])).toEqual(want);
      // the last draw is not fed: the states agree before it
      const refState = await ref.state();
      const oneState = await one.state();
      for (let l = 0; l < config.nLayer; l++)
        expect(maxAbsDiff(oneState.get(l, 'att_x'), refState.get(l, 'att_x'))).toBeLessThan(1e-5);
      // two calls of 3 draw what one call of 6 did
      const two = await model.openSession(warm);
      const first = await two.generate([7, 8, 9], { steps: 3, temperature, seed });
      const second = await two.generate(
        first.map((t) => t[2]!),
        { steps: 3, temperature, seed },
      );
      expect(first.map((t, b) => [...t, ...second[b]!])).toEqual(want);
      for (const s of [ref, one, two]) await s.dispose();
    }
    const session = await model.openSession(warm);
    await expect(session.generate([1, 2, 3], { steps: 0 })).rejects.toThrow(/steps must be a whole number/);
    await expect(session.generate([1, 2, 3], { steps: 1.5 })).rejects.toThrow(BadInputError);
    await expect(session.generate([1, 2], { steps: 2 })).rejects.toThrow(/3 streams, got 2 first tokens/);
    await expect(session.generate([1, 2, 50], { steps: 2 })).rejects.toThrow(/outside 0..49/);
    await expect(session.generate([1, 2, 3], { steps: 2, temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(session.generate([1, 2, 3], { steps: 2, seed: -3 })).rejects.toThrow(/seed/);
    await session.dispose();
    await expect(session.generate([1, 2, 3], { steps: 1 })).rejects.toThrow(DisposedError);
    await model.dispose();
  });
});
