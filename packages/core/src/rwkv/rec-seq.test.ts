import { describe, expect, it } from 'vitest';
import { RwkvModel } from './model.js';
import { randomRwkvWeights } from './random-weights.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each([4, 5, 6, 7] as const)('RWKV-%i recurrent vs sequence', (version) => {
  it('agree at T = 1, 7, 64, 257 with state in and out', async () => {
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 48, nVocab: 67, headSize: 16, dimFfn: 80 },
      version,
    );
    const model = new RwkvModel(config, tensors);
    let seed = 7;
    const tok = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % 67;
    };
    // Warm state from a prefix so "state in" is not the zero state.
    const prefix = Array.from({ length: 5 }, tok);
    const warm = (await model.forward([prefix], model.createState(), { mode: 'recurrent' })).state;
    for (const T of [1, 7, 64, 257]) {
      const tokens = Array.from({ length: T }, tok);
      const rec = await model.forward([tokens], warm, { mode: 'recurrent', logits: 'all' });
      const seq = await model.forward([tokens], warm, { mode: 'sequence', logits: 'all' });
      const dl = maxAbsDiff(rec.logits, seq.logits);
      let ds = 0;
      for (let l = 0; l < config.nLayer; l++) {
        for (const name of version === 4 ? ['att_x', 'aa', 'bb', 'pp', 'ffn_x'] : ['att_x', 'wkv', 'ffn_x']) {
          ds = Math.max(ds, maxAbsDiff(rec.state.get(l, name), seq.state.get(l, name)));
        }
      }
      console.log(
        `v${version} T=${T}: max |logits diff| ${dl.toExponential(2)}, max |state diff| ${ds.toExponential(2)}`,
      );
      expect(dl).toBeLessThan(1e-4);
      expect(ds).toBeLessThan(1e-3);
    }
    await model.dispose();
  });
});
