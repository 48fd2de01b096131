import { SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { ContextGraph } from './context-graph.js';
import { logSoftmaxRow } from './tokens.js';
import type { Joiner, PredictionNetwork } from './transducer.js';
import { TransducerModifiedBeamSearch } from './transducer-beam.js';
import { TransducerGreedySearch } from './transducer-greedy.js';

/**
 * A small, fully specified transducer to decode with: the prediction network's state is the
 * symbol history; its output one-hot encodes the last symbol; the joiner adds the encoder
 * frame's logits to a fixed matrix row of the last symbol (so what comes next depends on
 * what came before, as in a real transducer).
 */
function toyModel(vocab: number, seed: number) {
  const rng = new SeededRandom(seed);
  const W = Array.from({ length: vocab }, () => Array.from({ length: vocab }, () => rng.normal()));
  let steps = 0;
  const prediction: PredictionNetwork<number[]> = {
    async start() {
      return { state: [], out: oneHot(vocab, 0) };
    },
    async step(states, tokens) {
      steps += states.length > 0 ? 1 : 0;
      return {
        states: states.map((s, i) => [...s, tokens[i]!]),
        outs: tokens.map((t) => oneHot(vocab, t)),
      };
    },
  };
  const joiner: Joiner = {
    async join(enc, preds) {
      return preds.map((p) => {
        const last = p.indexOf(1);
        return Float32Array.from(enc, (e, v) => e + W[last]![v]!);
      });
    },
  };
  return { prediction, joiner, W, steps: () => steps };
}

function oneHot(n: number, i: number): Float32Array {
  const v = new Float32Array(n);
  v[i] = 1;
  return v;
}

/** Exact probability of every symbol sequence with at most one symbol per frame. */
function exactSequenceProbs(
  enc: Float32Array,
  frames: number,
  vocab: number,
  W: number[][],
): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (t: number, seq: number[], p: number) => {
    if (t === frames) {
      const key = seq.join(',');
      out.set(key, (out.get(key) ?? 0) + p);
      return;
    }
    const last = seq.at(-1) ?? 0;
    const lp = logSoftmaxRow(
      Float32Array.from(enc.subarray(t * vocab, (t + 1) * vocab), (e, v) => e + W[last]![v]!),
    );
    walk(t + 1, seq, p * Math.exp(lp[0]!));
    for (let v = 1; v < vocab; v++) walk(t + 1, [...seq, v], p * Math.exp(lp[v]!));
  };
  walk(0, [], 1);
  return out;
}

describe('transducer decoding', () => {
  const vocab = 3;
  const frames = 5;
  const rng = new SeededRandom(21);
  const enc = Float32Array.from({ length: frames * vocab }, () => 1.5 * rng.normal());

  it('greedy search emits the joiner best symbol frame by frame, in any chunking', async () => {
    const m = toyModel(vocab, 4);
    const whole = new TransducerGreedySearch(m.prediction, m.joiner);
    await whole.accept(enc, frames, vocab);
    const parts = new TransducerGreedySearch(m.prediction, m.joiner);
    await parts.accept(enc.subarray(0, 2 * vocab), 2, vocab);
    await parts.accept(enc.subarray(2 * vocab), frames - 2, vocab);
    expect(parts.result()).toEqual(whole.result());
    // Check against the definition directly.
    let last = 0;
    const want: number[] = [];
    for (let t = 0; t < frames; t++) {
      const row = Float32Array.from(enc.subarray(t * vocab, (t + 1) * vocab), (e, v) => e + m.W[last]![v]!);
      const best = row.indexOf(Math.max(...row));
      if (best !== 0) {
        want.push(best);
        last = best;
      }
    }
    expect(whole.result().map((t) => t.id)).toEqual(want);
  });

  it('modified beam search with a wide beam finds the most probable sequence exactly', async () => {
    const m = toyModel(vocab, 4);
    const exact = exactSequenceProbs(enc, frames, vocab, m.W);
    const beam = new TransducerModifiedBeamSearch(m.prediction, m.joiner, { beam: 64 });
    await beam.accept(enc, frames, vocab);
    const bestKey = [...exact.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    expect(
      beam
        .result()
        .map((t) => t.id)
        .join(','),
    ).toBe(bestKey);
  });

  it('modified beam search steps the prediction network once per symbol history, anew after a reset', async () => {
    const m = toyModel(vocab, 4);
    const asked: string[] = [];
    const recording: PredictionNetwork<number[]> = {
      start: () => m.prediction.start(),
      async step(states, tokens) {
        states.forEach((s, i) => {
          asked.push([...s, tokens[i]!].join(','));
        });
        return m.prediction.step(states, tokens);
      },
    };
    const exact = exactSequenceProbs(enc, frames, vocab, m.W);
    const search = new TransducerModifiedBeamSearch(recording, m.joiner, { beam: 8, maxSymbolsPerFrame: 2 });
    await search.accept(enc, frames, vocab);
    // a history dropped at the end of one frame and proposed again at the next is not stepped again
    expect(new Set(asked).size).toBe(asked.length);
    const first = search.result().map((t) => t.id);
    expect(first.length).toBeGreaterThan(0);
    expect(exact.size).toBeGreaterThan(1);
    // after a reset the symbols restart from the kept state: the same symbols are stepped again,
    // from that state (what was kept for them before the reset is not reused)
    search.reset();
    asked.length = 0;
    await search.accept(enc, frames, vocab);
    const again = search.result().map((t) => t.id);
    expect(again.length).toBeGreaterThan(0);
    expect(asked).toContain([...first, again[0]!].join(','));
    expect(asked.every((h) => h.startsWith(`${first.join(',')},`))).toBe(true);
  });

  it('beam 1 is greedy search; chunking does not change the result', async () => {
    const m = toyModel(vocab, 8);
    const greedy = new TransducerGreedySearch(m.prediction, m.joiner);
    await greedy.accept(enc, frames, vocab);
    const one = new TransducerModifiedBeamSearch(m.prediction, m.joiner, { beam: 1 });
    await one.accept(enc, frames, vocab);
    expect(one.result()).toEqual(greedy.result());
    const a = new TransducerModifiedBeamSearch(m.prediction, m.joiner, { beam: 4 });
    await a.accept(enc, frames, vocab);
    const b = new TransducerModifiedBeamSearch(m.prediction, m.joiner, { beam: 4 });
    await b.accept(enc.subarray(0, vocab), 1, vocab);
    await b.accept(enc.subarray(vocab), frames - 1, vocab);
    expect(b.result()).toEqual(a.result());
  });

  it('a hotword bonus makes the boosted sequence win', async () => {
    const m = toyModel(vocab, 4);
    const exact = exactSequenceProbs(enc, frames, vocab, m.W);
    const ranked = [...exact.entries()].sort((x, y) => y[1] - x[1]);
    // Boost the best sequence that differs from the winner and has two or more symbols.
    const target = ranked.find(([k], i) => i > 0 && k.split(',').length >= 2)![0];
    const tokens = target.split(',').map(Number);
    const beam = new TransducerModifiedBeamSearch(m.prediction, m.joiner, {
      beam: 64,
      hotwords: new ContextGraph([{ tokens }], 20),
    });
    await beam.accept(enc, frames, vocab);
    expect(beam.result().map((t) => t.id)).toEqual(tokens);
  });
});
