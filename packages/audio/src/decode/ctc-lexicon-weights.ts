import type { WordLexiconOptions } from './word-lexicon.js';

/**
 * Word-lexicon weights for CTC prefix beam search (`WordLexicon.fromFile(path,
 * CTC_LEXICON_WEIGHTS)` or `lexicon.withOptions(CTC_LEXICON_WEIGHTS)`); the lexicon's own
 * defaults (scale 0.3, word bonus -0.5) were tuned for the transducer's beam search.
 *
 * Why they differ: a CTC prefix's score sums its frames' letter probabilities with no
 * notion of spelling, so the word model has to carry more of the decision, and a stronger
 * word model needs a larger per-word penalty to keep it from splitting unknown words into
 * short known ones. Tuned on the two dev sets with the shipped speech model (2026-12-07,
 * `node bench/dist/speech-heldout.js DEV --sets train --decoders ctc-beam-lm --beam 8
 * --ctc-lm ...`, `bench/speech/ctc-lexicon-tune-2026-12-07.txt`): scale 0.5-0.7 with bonus -1
 * to -1.5 is flat, 24.9-25.4% / 16.5-16.9% word error rate on the dev voice / dev set 2,
 * against 27.7% / 19.2% at the transducer's weights.
 */
export const CTC_LEXICON_WEIGHTS: Readonly<Pick<WordLexiconOptions, 'scale' | 'oovLogProb' | 'wordBonus'>> =
  Object.freeze({ scale: 0.6, oovLogProb: -30, wordBonus: -1 });
