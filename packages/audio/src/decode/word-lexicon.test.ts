import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BadInputError, FileNotFoundError } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { lexiconScore } from '../../test-support/lexicon-score.js';
import { CtcPrefixBeamSearch } from './ctc-prefix-beam.js';
import type { Joiner, PredictionNetwork } from './transducer.js';
import { TransducerModifiedBeamSearch } from './transducer-beam.js';
import { CharVocabulary } from './vocabulary.js';
import {
  type BigramCounts,
  type LexiconState,
  readBigramFile,
  type TrigramCounts,
  WordLexicon,
} from './word-lexicon.js';

const vocab = new CharVocabulary();
/** Word counts of a small text, shared by the lexicons below. */
const threeWords: ReadonlyMap<string, number> = new Map([
  ['the', 60],
  ['cat', 30],
  ["can't", 10],
]);
const tmp = mkdtempSync(join(tmpdir(), 'lexicon-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The summed deltas of a text and its final score. */
const score = lexiconScore;

describe('WordLexicon', () => {
  const counts = threeWords;
  const lex = new WordLexicon(counts, { scale: 1, oovLogProb: -10, wordBonus: 0 });
  const best = Math.log(0.6);

  it('gives each word its log-probability (relative to the most likely word), spread over its letters', () => {
    expect(score(lex, 'the')).toBeCloseTo(0, 12);
    expect(score(lex, 'cat')).toBeCloseTo(Math.log(0.3) - best, 12);
    expect(score(lex, "can't the cat")).toBeCloseTo(Math.log(0.1) + Math.log(0.3) - 2 * best, 12);
    // a prefix already carries its best completion's score (the look-ahead)
    let st: LexiconState = lex.root;
    let partial = 0;
    for (const id of vocab.encode('ca')) {
      const r = lex.step(st, id);
      partial += r.delta;
      st = r.state;
    }
    expect(partial).toBeCloseTo(Math.log(0.3) - best, 12);
  });

  it('charges a word outside the lexicon oovLogProb, wherever it leaves the trie', () => {
    expect(score(lex, 'dog')).toBeCloseTo(-10 - best, 12);
    expect(score(lex, 'ca')).toBeCloseTo(-10 - best, 12); // a prefix that is not a word
    expect(score(lex, 'cats cat')).toBeCloseTo(-10 - best + Math.log(0.3) - best, 12);
    const half = new WordLexicon(counts, { scale: 0.5, oovLogProb: -10, wordBonus: 0 });
    expect(score(half, "dog can't")).toBeCloseTo(score(lex, "dog can't") / 2, 12);
  });

  it('adds wordBonus once per completed word, in the lexicon or not', () => {
    const b = new WordLexicon(counts, { scale: 1, oovLogProb: -10, wordBonus: 2.5 });
    expect(score(b, 'the cat')).toBeCloseTo(score(lex, 'the cat') + 5, 12);
    expect(score(b, 'dog the')).toBeCloseTo(score(lex, 'dog the') + 5, 12);
    expect(score(b, '')).toBe(0);
  });

  it('reads word<TAB>count files and names bad lines', () => {
    writeFileSync(join(tmp, 'ok.tsv'), 'the\t60\ncat\t30\n\n');
    expect(WordLexicon.fromFile(join(tmp, 'ok.tsv')).size).toBe(2);
    writeFileSync(join(tmp, 'bad.tsv'), 'the\t60\ncat thirty\n');
    expect(() => WordLexicon.fromFile(join(tmp, 'bad.tsv'))).toThrow(/line 2/);
    writeFileSync(join(tmp, 'two.tsv'), 'the cat\t3\n');
    expect(() => WordLexicon.fromFile(join(tmp, 'two.tsv'))).toThrow(BadInputError);
    expect(() => WordLexicon.fromFile(join(tmp, 'absent.tsv'))).toThrow(FileNotFoundError);
    expect(() => new WordLexicon(new Map([['Cat!', 1]]))).toThrow(BadInputError);
    expect(() => new WordLexicon(counts, { oovLogProb: 0 })).toThrow(/oovLogProb/);
  });
});

describe('WordLexicon with word pairs (bigrams)', () => {
  // word and word-pair counts as of a small text of 10 sentences (pairs seen once left out)
  const counts = threeWords;
  const bigrams: BigramCounts = {
    pairs: new Map([
      ['<s>', new Map([['the', 8]])],
      ['the', new Map([['cat', 25]])],
      ['cat', new Map([["can't", 5]])],
    ]),
    historyTotals: new Map([['<s>', 10]]),
  };
  const D = 0.75;
  const lex = new WordLexicon(counts, { scale: 1, oovLogProb: -10, wordBonus: 0, bigrams });
  const uni = (w: string) => counts.get(w)! / 100;
  /** P(w | v) by interpolated absolute discounting, written out. */
  const p = (v: string, w: string) => {
    const total = bigrams.historyTotals.get(v) ?? counts.get(v)!;
    const seen = bigrams.pairs.get(v)!;
    const lambda = 1 - [...seen.values()].reduce((a, c) => a + Math.max(c - D, 0), 0) / total;
    return Math.max((seen.get(w) ?? 0) - D, 0) / total + lambda * uni(w);
  };
  const best = Math.log(0.6);

  it('scores each completed word given the word before (the utterance start is <s>)', () => {
    expect(lex.bigramPairs).toBe(3);
    expect(score(lex, 'the')).toBeCloseTo(Math.log(p('<s>', 'the')) - best, 12);
    expect(score(lex, 'the cat')).toBeCloseTo(
      Math.log(p('<s>', 'the')) + Math.log(p('the', 'cat')) - 2 * best,
      12,
    );
    // a pair never seen backs off to lambda(v) P(w)
    expect(score(lex, "the can't")).toBeCloseTo(
      Math.log(p('<s>', 'the')) + Math.log(p('the', "can't")) - 2 * best,
      12,
    );
    // after a word outside the lexicon, or after a word with no pairs: the unigram
    expect(score(lex, 'dog cat')).toBeCloseTo(-10 - best + Math.log(uni('cat')) - best, 12);
    expect(score(lex, "can't cat").toFixed(9)).toBe(
      (Math.log(p('<s>', "can't")) + Math.log(uni('cat')) - 2 * best).toFixed(9),
    );
  });

  it('gives a proper distribution over the next word for every history', () => {
    for (const v of ['<s>', 'the', 'cat'])
      expect(
        [...counts.keys()].reduce((a, w) => a + p(v, w), 0),
        v,
      ).toBeCloseTo(1, 12);
    // and the lexicon's scores are those probabilities
    const after = (v: string, w: string) => score(lex, `${v} ${w}`) - score(lex, v);
    for (const w of counts.keys()) expect(after('the', w)).toBeCloseTo(Math.log(p('the', w)) - best, 12);
  });

  it('reads the pairs from <name>.bigrams.tsv.gz beside the word list, unless told not to; bad files are typed errors', () => {
    writeFileSync(join(tmp, 'words.tsv'), 'the\t60\ncat\t30\n');
    writeFileSync(join(tmp, 'words.bigrams.tsv.gz'), gzipSync('<s>\t*\t10\n<s>\tthe\t8\nthe\tcat\t25\n'));
    expect(WordLexicon.fromFile(join(tmp, 'words.tsv')).bigramPairs).toBe(2);
    expect(WordLexicon.fromFile(join(tmp, 'words.tsv'), { bigrams: false }).bigramPairs).toBe(0);
    writeFileSync(join(tmp, 'bad.bigrams.tsv.gz'), gzipSync('<s>\t*\t10\nthe cat 25\n'));
    expect(() => readBigramFile(join(tmp, 'bad.bigrams.tsv.gz'))).toThrow(/line 2/);
    writeFileSync(join(tmp, 'plain.bigrams.tsv.gz'), 'the\tcat\t3\n');
    expect(() => readBigramFile(join(tmp, 'plain.bigrams.tsv.gz'))).toThrow(/not gzip/);
    expect(() => readBigramFile(join(tmp, 'absent.bigrams.tsv.gz'))).toThrow(FileNotFoundError);
    // <s> needs its total; counts that exceed a history's total are not counts of one text
    const noTotal = { pairs: bigrams.pairs, historyTotals: new Map() };
    expect(() => new WordLexicon(counts, { bigrams: noTotal })).toThrow(/<s>/);
    const tooMany = { pairs: new Map([['cat', new Map([['the', 90]])]]), historyTotals: new Map() };
    expect(() => new WordLexicon(counts, { bigrams: tooMany })).toThrow(BadInputError);
  });

  it('reads the same lexicon from files as from maps, and shares it with other weights', () => {
    const file = join(tmp, 'same.tsv');
    // 'cat' twice: its first place and later count, as a Map would keep
    writeFileSync(join(tmp, 'same.tsv'), "the\t60\ncat\t1\ncan't\t10\ncat\t30\n");
    const lines = ['<s>\t*\t10', '<s>\tthe\t8', 'the\tcat\t25', "cat\tcan't\t5"];
    writeFileSync(join(tmp, 'same.bigrams.tsv.gz'), gzipSync(`${lines.join('\n')}\n`));
    const read = WordLexicon.fromFile(file, { scale: 1, oovLogProb: -10, wordBonus: 0 });
    expect(read.size).toBe(3);
    const texts = ['the cat', "the can't cat", 'dog the', "cat can't the", 'ca', 'the', ''];
    for (const t of texts) expect(score(read, t), t).toBe(score(lex, t));
    const other = { scale: 0.5, oovLogProb: -20, wordBonus: 1, discount: 0.5 };
    const shared = lex.withOptions(other);
    const built = new WordLexicon(counts, { ...other, bigrams });
    for (const t of texts) expect(score(shared, t), t).toBe(score(built, t));
    expect(shared.bigramPairs).toBe(3);
    expect(() => new WordLexicon(lex, { bigrams })).toThrow(/bigrams/);
    expect(() => lex.withOptions({ discount: 1.5 })).toThrow(/discount/);
  });
});

describe('WordLexicon with word triples (trigrams)', () => {
  // 10 sentences: "the cat can't" x5, "the cat the" x3, "cat the" x2 (pairs and triples seen twice kept)
  const counts = threeWords;
  const bigrams: BigramCounts = {
    pairs: new Map([
      ['<s>', new Map([['the', 8]])],
      ['the', new Map([['cat', 25]])],
      [
        'cat',
        new Map([
          ["can't", 5],
          ['the', 6],
        ]),
      ],
    ]),
    historyTotals: new Map([['<s>', 10]]),
  };
  const trigrams: TrigramCounts = {
    pairs: new Map([
      ['<s> the', new Map([['cat', 8]])],
      [
        'the cat',
        new Map([
          ["can't", 5],
          ['the', 3],
        ]),
      ],
    ]),
    historyTotals: new Map(),
  };
  const D = 0.75;
  const opts = { scale: 1, oovLogProb: -10, wordBonus: 0 };
  const lex = new WordLexicon(counts, { ...opts, bigrams, trigrams });
  const pairsOnly = new WordLexicon(counts, { ...opts, bigrams });
  const uni = (w: string) => counts.get(w)! / 100;
  /** Interpolated absolute discounting over `lower`, written out. */
  const interp = (seen: ReadonlyMap<string, number>, total: number, w: string, lower: number) => {
    const lambda = 1 - [...seen.values()].reduce((a, c) => a + Math.max(c - D, 0), 0) / total;
    return Math.max((seen.get(w) ?? 0) - D, 0) / total + lambda * lower;
  };
  const p2 = (v: string, w: string) =>
    bigrams.pairs.has(v)
      ? interp(bigrams.pairs.get(v)!, bigrams.historyTotals.get(v) ?? counts.get(v)!, w, uni(w))
      : uni(w);
  const pairCount = (u: string, v: string) => bigrams.pairs.get(u)!.get(v)!;
  const p3 = (u: string, v: string, w: string) =>
    trigrams.pairs.has(`${u} ${v}`)
      ? interp(trigrams.pairs.get(`${u} ${v}`)!, pairCount(u, v), w, p2(v, w))
      : p2(v, w);
  const best = Math.log(0.6);
  /** The score a word adds after `before` (a text of whole words). */
  const after = (l: WordLexicon, before: string, w: string) => score(l, `${before} ${w}`) - score(l, before);

  it('scores a word given the two before where their pair has triples, else given one', () => {
    expect(lex.trigramTriples).toBe(3);
    expect(pairsOnly.trigramTriples).toBe(0);
    expect(after(lex, 'the', 'cat')).toBeCloseTo(Math.log(p3('<s>', 'the', 'cat')) - best, 12);
    for (const w of counts.keys()) {
      expect(after(lex, 'the cat', w), w).toBeCloseTo(Math.log(p3('the', 'cat', w)) - best, 12);
      // a history pair with no triples ("cat the") and a pair never kept ("can't the"): the pairs
      expect(after(lex, 'cat the', w), w).toBeCloseTo(after(pairsOnly, 'cat the', w), 12);
      expect(after(lex, "can't the", w), w).toBeCloseTo(after(pairsOnly, "can't the", w), 12);
      // after a word outside the lexicon, no pair: the pairs' score of the next word, then the unigram
      expect(after(lex, 'dog the', w), w).toBeCloseTo(after(pairsOnly, 'dog the', w), 12);
    }
    // the triples change what a pair alone predicts: "the cat" is followed by "can't" more often
    expect(after(lex, 'the cat', "can't")).toBeGreaterThan(after(pairsOnly, 'the cat', "can't"));
    // a proper distribution over the next word after a pair with triples
    expect([...counts.keys()].reduce((a, w) => a + p3('the', 'cat', w), 0)).toBeCloseTo(1, 12);
  });

  it('reads <name>.trigrams.tsv.gz beside the word list, the same as from maps; bad input is a typed error', () => {
    const file = join(tmp, 'tri.tsv');
    writeFileSync(file, "the\t60\ncat\t30\ncan't\t10\n");
    const pairLines = ['<s>\t*\t10', '<s>\tthe\t8', 'the\tcat\t25', "cat\tcan't\t5", 'cat\tthe\t6'];
    writeFileSync(join(tmp, 'tri.bigrams.tsv.gz'), gzipSync(`${pairLines.join('\n')}\n`));
    // a triple with a word outside the lexicon, and one whose history pair was not kept, are skipped
    const tripleLines = [
      '<s> the\tcat\t8',
      "the cat\tcan't\t5",
      'the cat\tthe\t3',
      'the cat\tdog\t2',
      "can't the\tcat\t2",
    ];
    writeFileSync(join(tmp, 'tri.trigrams.tsv.gz'), gzipSync(`${tripleLines.join('\n')}\n`));
    const read = WordLexicon.fromFile(file, opts);
    expect(read.trigramTriples).toBe(3);
    const texts = [
      'the cat',
      "the cat can't",
      'the cat the cat',
      'cat the cat',
      'dog the cat',
      "can't the cat",
      '',
    ];
    for (const t of texts) expect(score(read, t), t).toBe(score(lex, t));
    expect(WordLexicon.fromFile(file, { ...opts, trigrams: false }).trigramTriples).toBe(0);
    // without pairs, no triples
    expect(WordLexicon.fromFile(file, { ...opts, bigrams: false }).trigramTriples).toBe(0);
    // the same triples shared with other weights
    const other = { scale: 0.5, oovLogProb: -20, wordBonus: 1, discount: 0.5 };
    const built = new WordLexicon(counts, { ...other, bigrams, trigrams });
    for (const t of texts) expect(score(lex.withOptions(other), t), t).toBe(score(built, t));
    // a history that is not two words; triples without pairs; counts over a history's total
    writeFileSync(join(tmp, 'tri.trigrams.tsv.gz'), gzipSync('the\tcat\t8\n'));
    expect(() => WordLexicon.fromFile(file, opts)).toThrow(/trigram history 'the' is not two words/);
    try {
      WordLexicon.fromFile(file, opts);
    } catch (e) {
      expect(e).toBeInstanceOf(BadInputError);
      expect((e as BadInputError).file).toBe(join(tmp, 'tri.trigrams.tsv.gz'));
    }
    expect(() => new WordLexicon(counts, { trigrams })).toThrow(/trigrams need bigrams/);
    expect(() => new WordLexicon(lex, { trigrams })).toThrow(/trigrams/);
    const tooMany: TrigramCounts = {
      pairs: new Map([['the cat', new Map([['the', 40]])]]),
      historyTotals: new Map(),
    };
    expect(() => new WordLexicon(counts, { bigrams, trigrams: tooMany })).toThrow(
      /'the cat' add up to more than its total \(25\)/,
    );
  });
});

/**
 * A transducer whose next symbol depends only on what it has emitted so far, the same for
 * every frame: it spells `word` one letter at a time (probability `p` for the right letter,
 * the rest spread), then prefers blank.
 */
function speller(word: number[], p: number, rival?: { at: number; token: number; q: number }) {
  const V = 29;
  const prediction: PredictionNetwork<number[]> = {
    async start() {
      return { state: [], out: Float32Array.of(0) };
    },
    async step(states, tokens) {
      const next = states.map((s, i) => [...s, tokens[i]!]);
      return { states: next, outs: next.map((s) => Float32Array.of(s.length)) };
    },
  };
  const joiner: Joiner = {
    async join(_enc, preds) {
      return preds.map((pr) => {
        const n = pr[0]!;
        const probs = new Float64Array(V).fill((1 - p) / (V - 1));
        const want = n < word.length ? word[n]! : 0;
        probs[want] = p;
        if (rival && n === rival.at) {
          probs[rival.token] = rival.q;
          probs[want] = p - rival.q + (1 - p) / (V - 1);
        }
        return Float32Array.from(probs, Math.log);
      });
    },
  };
  return { prediction, joiner };
}

describe('transducer beam search with several symbols a frame and a word lexicon', () => {
  it('emits up to maxSymbolsPerFrame symbols in one frame', async () => {
    const word = vocab.encode('cat');
    for (const [k, want] of [
      [1, 'c'],
      [2, 'ca'],
      [3, 'cat'],
    ] as const) {
      const { prediction, joiner } = speller(word, 0.9);
      const search = new TransducerModifiedBeamSearch(prediction, joiner, { beam: 4, maxSymbolsPerFrame: k });
      await search.accept(new Float32Array(1), 1, 1);
      expect(vocab.decode(search.result().map((t) => t.id))).toBe(want);
    }
    expect(
      () =>
        new TransducerModifiedBeamSearch(speller(word, 0.9).prediction, speller(word, 0.9).joiner, {
          maxSymbolsPerFrame: 0,
        }),
    ).toThrow(/maxSymbolsPerFrame/);
  });

  it('lets the lexicon overrule a slightly likelier misspelling', async () => {
    // acoustically 'cet' (0.5) beats 'cat' (0.4) at the second letter
    const word = vocab.encode('cat');
    const rival = { at: 1, token: vocab.encode('e')[0]!, q: 0.5 };
    const plain = speller(word, 0.9, rival);
    const noLm = new TransducerModifiedBeamSearch(plain.prediction, plain.joiner, {
      beam: 4,
      maxSymbolsPerFrame: 1,
    });
    const frames = 6;
    await noLm.accept(new Float32Array(frames), frames, 1);
    expect(vocab.decode(noLm.result().map((t) => t.id))).toBe('cet');
    const lexicon = new WordLexicon(
      new Map([
        ['cat', 5],
        ['dog', 5],
      ]),
      { scale: 1, oovLogProb: -10, wordBonus: 0 },
    );
    const withLm = new TransducerModifiedBeamSearch(plain.prediction, plain.joiner, {
      beam: 4,
      maxSymbolsPerFrame: 1,
      lexicon,
    });
    await withLm.accept(new Float32Array(frames), frames, 1);
    expect(vocab.decode(withLm.result().map((t) => t.id))).toBe('cat');
  });

  it('ranks partial results by the running score: the word being spelled is not charged as unknown', async () => {
    const { prediction, joiner } = speller(vocab.encode('cat'), 0.9);
    const lexicon = new WordLexicon(new Map([['cat', 5]]), { scale: 1, oovLogProb: -30, wordBonus: 0 });
    const search = new TransducerModifiedBeamSearch(prediction, joiner, {
      beam: 4,
      maxSymbolsPerFrame: 1,
      lexicon,
    });
    const text = (complete: boolean) => vocab.decode(search.result(complete).map((t) => t.id));
    await search.accept(new Float32Array(2), 2, 1);
    // 'ca' is on its way to 'cat'; ended here it would be a word outside the lexicon (-30),
    // so the final ranking prefers a hypothesis without it (nothing yet: two blanks)
    expect(text(false)).toBe('ca');
    expect(text(true)).toBe('');
    await search.accept(new Float32Array(1), 1, 1);
    expect(text(false)).toBe('cat');
    expect(text(true)).toBe('cat');
  });
});

describe('CTC prefix beam search with a word lexicon', () => {
  it('lets the lexicon overrule a slightly likelier misspelling', async () => {
    const [c, a, e, t] = vocab.encode('caet') as [number, number, number, number];
    const frame = (probs: Record<number, number>) => {
      const rest = (1 - Object.values(probs).reduce((x, y) => x + y, 0)) / (29 - Object.keys(probs).length);
      return Float32Array.from({ length: 29 }, (_, v) => Math.log(probs[v] ?? rest));
    };
    const frames = [
      frame({ [c]: 0.9 }),
      frame({ [e]: 0.5, [a]: 0.4 }),
      frame({ [t]: 0.9 }),
      frame({ 0: 0.9 }),
    ];
    const data = new Float32Array(frames.length * 29);
    frames.forEach((f, i) => {
      data.set(f, i * 29);
    });
    const decodeWith = (lexicon?: WordLexicon) => {
      const search = new CtcPrefixBeamSearch(29, { beam: 4, ...(lexicon ? { lexicon } : {}) });
      search.accept({ data, frames: frames.length, vocab: 29 });
      return vocab.decode(search.result().map((x) => x.id));
    };
    expect(decodeWith()).toBe('cet');
    const lexicon = new WordLexicon(
      new Map([
        ['cat', 5],
        ['dog', 5],
      ]),
      { scale: 1, oovLogProb: -10, wordBonus: 0 },
    );
    expect(decodeWith(lexicon)).toBe('cat');
    // after 'ca' (two frames): the partial result keeps the word being spelled
    const partial = new CtcPrefixBeamSearch(29, { beam: 4, lexicon });
    partial.accept({ data: data.subarray(0, 2 * 29), frames: 2, vocab: 29 });
    expect(vocab.decode(partial.result(false).map((x) => x.id))).toBe('ca');
    expect(vocab.decode(partial.result(true).map((x) => x.id))).not.toBe('ca');
  });
});
