import { describe, expect, it } from 'vitest';
import { CTC_LEXICON_WEIGHTS } from '../decode/ctc-lexicon-weights.js';
import { lexiconWeightsFor } from './lexicon-weights.js';

describe('lexiconWeightsFor', () => {
  it('gives CTC prefix beam search its own weights and leaves the lexicon defaults to the rest', () => {
    expect(lexiconWeightsFor('ctc-beam')).toEqual({ scale: 0.6, oovLogProb: -30, wordBonus: -1 });
    expect(lexiconWeightsFor('ctc-beam')).toEqual(CTC_LEXICON_WEIGHTS);
    for (const m of ['ctc-greedy', 'transducer-greedy', 'transducer-beam'] as const)
      expect(lexiconWeightsFor(m)).toEqual({});
    expect(Object.isFrozen(CTC_LEXICON_WEIGHTS)).toBe(true);
  });

  it("lays a user's scale and word bonus over them; undefined ones change nothing", () => {
    expect(lexiconWeightsFor('ctc-beam', { scale: 0.2 })).toEqual({ ...CTC_LEXICON_WEIGHTS, scale: 0.2 });
    expect(lexiconWeightsFor('ctc-beam', { wordBonus: 2 })).toEqual({ ...CTC_LEXICON_WEIGHTS, wordBonus: 2 });
    expect(lexiconWeightsFor('ctc-beam', { scale: undefined, wordBonus: undefined })).toEqual(
      CTC_LEXICON_WEIGHTS,
    );
    expect(lexiconWeightsFor('transducer-beam', { scale: 0.2, wordBonus: 2 })).toEqual({
      scale: 0.2,
      wordBonus: 2,
    });
    expect(lexiconWeightsFor('transducer-beam', { scale: undefined })).toEqual({});
  });
});
