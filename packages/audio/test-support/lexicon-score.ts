import { CharVocabulary } from '../src/decode/vocabulary.js';
import type { LexiconState, WordLexicon } from '../src/decode/word-lexicon.js';

const vocab = new CharVocabulary();

/** The summed step deltas of `text` through a word lexicon, plus its final score. */
export function lexiconScore(lex: WordLexicon, text: string): number {
  let state: LexiconState = lex.root;
  let total = 0;
  for (const id of vocab.encode(text)) {
    const r = lex.step(state, id);
    total += r.delta;
    state = r.state;
  }
  return total + lex.finalize(state);
}
