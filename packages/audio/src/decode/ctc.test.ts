import { BadInputError, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { ContextGraph } from './context-graph.js';
import { CtcGreedyDecoder } from './ctc-greedy.js';
import { CtcPrefixBeamSearch } from './ctc-prefix-beam.js';
import type { DecodedToken, FrameScores } from './tokens.js';

/** Frame scores from per-frame probabilities (rows sum to 1); logits are their logs. */
function fromProbs(rows: number[][]): FrameScores {
  const vocab = rows[0]!.length;
  return { data: Float32Array.from(rows.flat().map(Math.log)), frames: rows.length, vocab };
}

function randomScores(frames: number, vocab: number, seed: number): FrameScores {
  const rng = new SeededRandom(seed);
  // Blank-heavy like a trained CTC model: blank logit raised.
  const data = Float32Array.from(
    { length: frames * vocab },
    (_, i) => 2 * rng.normal() + (i % vocab === 0 ? 2 : 0),
  );
  return { data, frames, vocab };
}

function chunks(s: FrameScores, sizes: number[]): FrameScores[] {
  const out: FrameScores[] = [];
  let f = 0;
  for (const n of sizes) {
    const m = Math.min(n, s.frames - f);
    out.push({ data: s.data.slice(f * s.vocab, (f + m) * s.vocab), frames: m, vocab: s.vocab });
    f += m;
  }
  if (f < s.frames) out.push({ data: s.data.slice(f * s.vocab), frames: s.frames - f, vocab: s.vocab });
  return out;
}

const ids = (t: readonly DecodedToken[]) => t.map((x) => x.id);

/** Exact probability of every label sequence: the sum over all T-frame alignments. */
function exactPrefixProbs(rows: number[][]): Map<string, number> {
  const V = rows[0]!.length;
  const out = new Map<string, number>();
  const walk = (t: number, path: number[], p: number) => {
    if (t === rows.length) {
      const labels: number[] = [];
      path.forEach((c, i) => {
        if (c !== 0 && c !== path[i - 1]) labels.push(c);
      });
      const key = labels.join(',');
      out.set(key, (out.get(key) ?? 0) + p);
      return;
    }
    for (let c = 0; c < V; c++) walk(t + 1, [...path, c], p * rows[t]![c]!);
  };
  walk(0, [], 1);
  return out;
}

describe('CTC greedy decoding', () => {
  it('merges repeats, drops blanks and keeps the frame of each symbol', () => {
    const d = new CtcGreedyDecoder(4);
    // best per frame: 1 1 0 1 2 2 0 0
    const rows = [1, 1, 0, 1, 2, 2, 0, 0].map((b) => [0, 1, 2, 3].map((v) => (v === b ? 0.7 : 0.1)));
    d.accept(fromProbs(rows));
    expect(d.result()).toEqual([
      { id: 1, frame: 0 },
      { id: 1, frame: 3 },
      { id: 2, frame: 4 },
    ]);
    expect(d.trailingBlanks).toBe(2);
    expect(d.frames).toBe(8);
  });

  it('gives the same result for any chunking of the frames', () => {
    const s = randomScores(200, 29, 3);
    const whole = new CtcGreedyDecoder(29);
    whole.accept(s);
    const rng = new SeededRandom(9);
    const sizes = Array.from({ length: 60 }, () => Math.floor(rng.uniform() * 7));
    const parts = new CtcGreedyDecoder(29);
    for (const c of chunks(s, sizes)) parts.accept(c);
    expect(parts.result()).toEqual(whole.result());
    expect(whole.result().length).toBeGreaterThan(10);
  });

  it('rejects scores whose size disagrees with frames x vocab, or another vocabulary', () => {
    const d = new CtcGreedyDecoder(4);
    expect(() => d.accept({ data: new Float32Array(7), frames: 2, vocab: 4 })).toThrow(BadInputError);
    expect(() => d.accept({ data: new Float32Array(10), frames: 2, vocab: 5 })).toThrow(/made for 4/);
  });
});

describe('CTC prefix beam search', () => {
  it('finds the label sequence of highest total probability where greedy does not', () => {
    // Each frame: blank 0.4, a 0.35, b 0.25. Greedy: "" (p 0.16); "a" sums to 0.4025.
    const rows = [
      [0.4, 0.35, 0.25],
      [0.4, 0.35, 0.25],
    ];
    const greedy = new CtcGreedyDecoder(3);
    greedy.accept(fromProbs(rows));
    expect(greedy.result()).toEqual([]);
    const beam = new CtcPrefixBeamSearch(3, { beam: 4 });
    beam.accept(fromProbs(rows));
    expect(ids(beam.result())).toEqual([1]);
    const best = beam.nbest()[0]!;
    expect(Math.exp(best.score)).toBeCloseTo(0.4025, 6);
  });

  it('with a beam wide enough, scores every prefix exactly (against all alignments)', () => {
    const rng = new SeededRandom(5);
    for (let trial = 0; trial < 5; trial++) {
      const rows = Array.from({ length: 5 }, () => {
        const r = [0, 0, 0].map(() => 0.05 + rng.uniform());
        const sum = r.reduce((a, b) => a + b, 0);
        return r.map((x) => x / sum);
      });
      const exact = exactPrefixProbs(rows);
      const beam = new CtcPrefixBeamSearch(3, { beam: 1000 });
      beam.accept(fromProbs(rows));
      const got = new Map(beam.nbest().map((h) => [ids(h.tokens).join(','), Math.exp(h.score)]));
      expect(got.size).toBe(exact.size);
      for (const [key, p] of exact) expect(got.get(key)).toBeCloseTo(p, 6);
      const bestKey = [...exact.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      expect(ids(beam.result()).join(',')).toBe(bestKey);
    }
  });

  it('gives the same hypotheses for any chunking of the frames', () => {
    const s = randomScores(120, 29, 11);
    const whole = new CtcPrefixBeamSearch(29, { beam: 6 });
    whole.accept(s);
    const parts = new CtcPrefixBeamSearch(29, { beam: 6 });
    for (const c of chunks(s, [1, 5, 0, 17, 3, 40, 2])) parts.accept(c);
    expect(parts.nbest()).toEqual(whole.nbest());
    expect(parts.result().length).toBeGreaterThan(5);
  });

  it('hotwords tip a close call towards the boosted phrase, and only when completed', () => {
    // Three symbols after the blank: 1 = a, 2 = b, 3 = d. Frame 2 slightly prefers d over b.
    const rows = [
      [0.1, 0.8, 0.05, 0.05],
      [0.1, 0.05, 0.4, 0.45],
    ];
    const plain = new CtcPrefixBeamSearch(4, { beam: 8 });
    plain.accept(fromProbs(rows));
    expect(ids(plain.result())).toEqual([1, 3]);
    const boosted = new CtcPrefixBeamSearch(4, {
      beam: 8,
      hotwords: new ContextGraph([{ tokens: [1, 2] }], 0.5),
    });
    boosted.accept(fromProbs(rows));
    expect(ids(boosted.result())).toEqual([1, 2]);
    // A hotword that is never completed changes nothing.
    const unfinished = new CtcPrefixBeamSearch(4, {
      beam: 8,
      hotwords: new ContextGraph([{ tokens: [1, 2, 2, 2] }], 0.5),
    });
    unfinished.accept(fromProbs(rows));
    expect(ids(unfinished.result())).toEqual([1, 3]);
  });

  it('reset starts a new utterance and keeps counting frames', () => {
    const beam = new CtcPrefixBeamSearch(3, { beam: 4 });
    beam.accept(fromProbs([[0.1, 0.8, 0.1]]));
    beam.reset();
    beam.accept(fromProbs([[0.1, 0.1, 0.8]]));
    expect(beam.result()).toEqual([{ id: 2, frame: 1 }]);
    expect(() => new CtcPrefixBeamSearch(3, { beam: 0 })).toThrow(/beam must be/);
  });
});
