import { describe, expect, it } from 'vitest';
import { RwkvModel } from '../rwkv/model.js';
import { randomRwkvWeights } from '../rwkv/random-weights.js';
import { ByteLanguageModel } from './byte-lm.js';
import { bitsFor } from './sampling.js';

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: 2, nEmbd: 32, nVocab: 256, headSize: 16, dimFfn: 64 },
  9,
);

describe('ByteLanguageModel', () => {
  const lm = new ByteLanguageModel(new RwkvModel(config, tensors));
  const text = new TextEncoder().encode('The quick brown fox jumps over the lazy dog. 0123456789');

  it('bits per byte is the mean of -log2 p(next byte), whatever the chunk size', async () => {
    let state = lm.model.createState();
    let total = 0;
    for (let t = 0; t < text.length - 1; t++) {
      const res = await lm.model.forward([[text[t]!]], state, { mode: 'recurrent' });
      state = res.state;
      total += bitsFor(res.logits, text[t + 1]!);
    }
    const reference = total / (text.length - 1);
    for (const chunk of [1, 7, 1024]) {
      const { bitsPerByte, bytes } = await lm.bitsPerByte(text, chunk);
      expect(bytes).toBe(text.length - 1);
      expect(Math.abs(bitsPerByte - reference)).toBeLessThan(1e-5);
    }
  });

  it('generation is reproducible with a seed, greedy at temperature 0, and continues from a given state', async () => {
    const a = await lm.generate('ab', { maxTokens: 12, seed: 3 });
    const b = await lm.generate('ab', { maxTokens: 12, seed: 3 });
    expect(a.bytes).toEqual(b.bytes);
    const greedy = await lm.generate('ab', { maxTokens: 6, temperature: 0 });
    // Greedy by hand: feed 'ab', then argmax and feed it back, six times.
    let { logits, state } = await lm.logits('ab');
    const manual: number[] = [];
    for (let i = 0; i < 6; i++) {
      let best = 0;
      for (let v = 1; v < 256; v++) if (logits[v]! > logits[best]!) best = v;
      manual.push(best);
      ({ logits, state } = await lm.model.forward([[best]], state));
    }
    expect(Array.from(greedy.bytes)).toEqual(manual);
    // the state returned is the one after the prompt and every byte but the last (never fed)
    ({ state } = await lm.logits('ab'));
    for (const byte of manual.slice(0, -1)) ({ state } = await lm.model.forward([[byte]], state));
    // (the prompt went in as one sequence call there, token by token here: float32 rounding)
    for (let l = 0; l < config.nLayer; l++)
      for (const name of ['att_x', 'wkv', 'ffn_x']) {
        const [a, b] = [greedy.state.get(l, name), state.get(l, name)];
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
      }
    // continuing from it: as if prompt and continuation had been one prompt
    const next = await lm.generate('c', { maxTokens: 4, temperature: 0, state: greedy.state });
    let from = state;
    ({ logits, state: from } = await lm.model.forward([[99]], from));
    const more: number[] = [];
    for (let i = 0; i < 4; i++) {
      let best = 0;
      for (let v = 1; v < 256; v++) if (logits[v]! > logits[best]!) best = v;
      more.push(best);
      ({ logits, state: from } = await lm.model.forward([[best]], from));
    }
    expect(Array.from(next.bytes)).toEqual(more);
  });

  it('refuses models that are not byte-level and empty prompts', async () => {
    const wide = randomRwkvWeights({ version: 7, nLayer: 1, nEmbd: 32, nVocab: 300, headSize: 16 });
    expect(() => new ByteLanguageModel(new RwkvModel(wide.config, wide.tensors))).toThrow(
      /vocabulary of 256/,
    );
    await expect(lm.logits('')).rejects.toThrow(/empty/);
  });
});
