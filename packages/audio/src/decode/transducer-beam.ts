import { BadInputError } from '@rwkv-streams/core';
import type { ContextGraph, ContextState } from './context-graph.js';
import { extendHash, PrefixCache, PrefixSet, type TokenLink, tokensOf } from './prefix-links.js';
import type { DecodedToken } from './tokens.js';
import { logAddExp, logSoftmaxRow, topK } from './tokens.js';
import type { Joiner, PredictionNetwork } from './transducer.js';
import { BLANK } from './vocabulary.js';
import type { LexiconState, WordLexicon } from './word-lexicon.js';

/** Options of transducer modified beam search. */
export interface TransducerBeamOptions {
  /** Hypotheses kept after each frame (default 4, sherpa-onnx's default). */
  readonly beam?: number;
  /** Hotwords to boost. */
  readonly hotwords?: ContextGraph;
  /** A word language model fused into the scores (shallow fusion). */
  readonly lexicon?: WordLexicon;
  /**
   * Symbols a hypothesis may emit per encoder frame (default 1, k2/sherpa-onnx's modified
   * beam search). Above 1, each frame expands the beam up to this many times: every
   * hypothesis may end the frame with a blank, or emit one more symbol and be joined again;
   * after the last expansion an emitting hypothesis ends the frame as it is (as greedy
   * search with several symbols a frame does).
   */
  readonly maxSymbolsPerFrame?: number;
}

interface Hyp<S> {
  /**
   * The symbols since the prediction network's state was last set by `startHyps` or `reset`
   * (equal symbols mean equal prediction-network states), and their hash.
   */
  readonly last: TokenLink | null;
  readonly hash: number;
  logp: number;
  readonly state: S;
  readonly out: Float32Array;
  readonly context: ContextState | null;
  readonly contextScore: number;
  readonly lm: LexiconState | null;
  readonly lmScore: number;
  /** Frames at the end with no symbol on this hypothesis. */
  readonly trailing: number;
}

/** Prediction-network results kept per beam entry (see `predict`). */
const PREDICTION_CACHE_PER_BEAM = 16;

/**
 * Streaming transducer "modified beam search" (k2/icefall, sherpa-onnx): at most one symbol
 * per frame; each frame, every kept hypothesis is scored by the joiner, the `beam` best
 * (hypothesis, symbol) pairs over all of them survive, hypotheses with the same symbols
 * are merged (probabilities added), and the prediction network advances, batched, only for
 * the pairs that emit. Optional hotword boosting. Encoder frames may arrive in any chunking.
 */
export class TransducerModifiedBeamSearch<S> {
  private hyps: Hyp<S>[] | undefined;
  private frame = 0;
  private readonly beam: number;
  private readonly maxSymbols: number;
  /** Prediction-network results by symbols since the state was set, the oldest dropped first (see `predict`). */
  private readonly predicted: PrefixCache<{ readonly state: S; readonly out: Float32Array }>;

  constructor(
    private readonly prediction: PredictionNetwork<S>,
    private readonly joiner: Joiner,
    private readonly options: TransducerBeamOptions = {},
  ) {
    this.beam = options.beam ?? 4;
    if (!Number.isInteger(this.beam) || this.beam < 1)
      throw new BadInputError(`beam must be an integer >= 1, got ${this.beam}`, { field: 'beam' });
    this.predicted = new PrefixCache(PREDICTION_CACHE_PER_BEAM * this.beam);
    this.maxSymbols = options.maxSymbolsPerFrame ?? 1;
    if (!Number.isInteger(this.maxSymbols) || this.maxSymbols < 1)
      throw new BadInputError(`maxSymbolsPerFrame must be an integer >= 1, got ${this.maxSymbols}`, {
        field: 'maxSymbolsPerFrame',
      });
  }

  /** Consumes encoder frames (`frames` rows of `dim` values). */
  async accept(encoder: Float32Array, frames: number, dim: number): Promise<void> {
    if (encoder.length !== frames * dim)
      throw new BadInputError(`encoder output holds ${encoder.length} values, not ${frames} x ${dim}`, {
        field: 'encoder',
      });
    if (!this.hyps) await this.startHyps();
    for (let f = 0; f < frames; f++) await this.step(encoder.subarray(f * dim, (f + 1) * dim));
  }

  private async startHyps(): Promise<void> {
    const { state, out } = await this.prediction.start();
    const context = this.options.hotwords?.root ?? null;
    const lm = this.options.lexicon?.root ?? null;
    this.predicted.clear();
    this.hyps = [
      { last: null, hash: 0, logp: 0, state, out, context, contextScore: 0, lm, lmScore: 0, trailing: 0 },
    ];
  }

  private rankOf(h: Hyp<S>): number {
    return h.logp + h.contextScore + h.lmScore;
  }

  private async step(enc: Float32Array): Promise<void> {
    // Hypotheses that have ended this frame (a blank, or the last allowed symbol), ranked.
    const ended: { hyp: Hyp<S>; rank: number }[] = [];
    let active = this.hyps!;
    for (let k = 0; k < this.maxSymbols && active.length > 0; k++) {
      const logits = await this.joiner.join(
        enc,
        active.map((h) => h.out),
      );
      const cands: { h: Hyp<S>; sym: number; logp: number; rank: number }[] = [];
      active.forEach((h, i) => {
        const lp = logSoftmaxRow(logits[i]!);
        const blank: Hyp<S> = { ...h, logp: h.logp + lp[BLANK]!, trailing: k === 0 ? h.trailing + 1 : 0 };
        ended.push({ hyp: blank, rank: this.rankOf(blank) });
        for (const sym of topK(lp, Math.min(this.beam + 1, lp.length))) {
          if (sym === BLANK) continue;
          const logp = h.logp + lp[sym]!;
          const bonus = h.context ? this.options.hotwords!.step(h.context, sym).delta : 0;
          const lmDelta = h.lm !== null ? this.options.lexicon!.step(h.lm, sym).delta : 0;
          cands.push({ h, sym, logp, rank: logp + h.contextScore + bonus + h.lmScore + lmDelta });
        }
      });
      cands.sort((a, b) => b.rank - a.rank);
      // an emission that cannot beat the beam's worst ended hypothesis is not worth a
      // prediction-network step
      ended.sort((a, b) => b.rank - a.rank);
      const floor = ended.length >= this.beam ? ended[this.beam - 1]!.rank : -Infinity;
      const chosen = cands.slice(0, this.beam).filter((c) => c.rank > floor);
      if (chosen.length === 0) break;
      const links = chosen.map(
        (c): TokenLink => ({
          token: { id: c.sym, frame: this.frame },
          prev: c.h.last,
          length: (c.h.last?.length ?? 0) + 1,
        }),
      );
      const hashes = chosen.map((c) => extendHash(c.h.hash, c.sym));
      const advanced = await this.predict(chosen, links, hashes);
      const emitted = chosen.map((c, e): Hyp<S> => {
        const moved = c.h.context ? this.options.hotwords!.step(c.h.context, c.sym) : null;
        const lm = c.h.lm !== null ? this.options.lexicon!.step(c.h.lm, c.sym) : null;
        return {
          last: links[e]!,
          hash: hashes[e]!,
          logp: c.logp,
          state: advanced[e]!.state,
          out: advanced[e]!.out,
          context: moved ? moved.state : null,
          contextScore: c.h.contextScore + (moved ? moved.delta : 0),
          lm: lm ? lm.state : null,
          lmScore: c.h.lmScore + (lm ? lm.delta : 0),
          trailing: 0,
        };
      });
      if (k === this.maxSymbols - 1) for (const h of emitted) ended.push({ hyp: h, rank: this.rankOf(h) });
      else active = this.merge(emitted);
    }
    ended.sort((a, b) => b.rank - a.rank);
    this.hyps = this.merge(ended.slice(0, this.beam).map((e) => e.hyp));
    this.frame++;
  }

  /**
   * The prediction network advanced by one symbol for each chosen (hypothesis, symbol) pair,
   * batched, reusing what an earlier expansion computed for the same symbols: a hypothesis that
   * ends a frame with a blank proposes mostly the same symbols at the next frame, whose
   * predictions the beam had computed and then dropped. Results stay for the last
   * PREDICTION_CACHE_PER_BEAM x beam pairs. Measured on 100 held-out utterances (the shipped
   * model, packages/audio/README.md, "The search's own cost"): 46% of the rows the beam asked
   * for at beam 16 (42% at beam 4) were such repeats, 16% (22%) of the calls were not needed.
   */
  private async predict(
    chosen: readonly { readonly h: Hyp<S>; readonly sym: number }[],
    links: readonly TokenLink[],
    hashes: readonly number[],
  ): Promise<{ readonly state: S; readonly out: Float32Array }[]> {
    const found = chosen.map((_, i) => this.predicted.get(hashes[i]!, links[i]!));
    const missing = chosen.filter((_, i) => !found[i]);
    if (missing.length === 0) return found as { readonly state: S; readonly out: Float32Array }[];
    const advanced = await this.prediction.step(
      missing.map((c) => c.h.state),
      missing.map((c) => c.sym),
    );
    let next = 0;
    const results = found.map((f, i) => {
      if (f) return f;
      const made = { state: advanced.states[next]!, out: advanced.outs[next++]! };
      this.predicted.set(hashes[i]!, links[i]!, made);
      return made;
    });
    return results;
  }

  /** Hypotheses with the same symbols become one (probabilities added). */
  private merge(hyps: readonly Hyp<S>[]): Hyp<S>[] {
    const merged = new PrefixSet<Hyp<S>>();
    for (const hyp of hyps) {
      const same = merged.get(hyp.hash, hyp.last);
      if (same) same.logp = logAddExp(same.logp, hyp.logp);
      else merged.add({ ...hyp });
    }
    return merged.list;
  }

  private finalScore(h: Hyp<S>): number {
    const hw = this.options.hotwords;
    const lex = this.options.lexicon;
    return (
      this.rankOf(h) +
      (hw && h.context ? hw.finalize(h.context) : 0) +
      (lex && h.lm !== null ? lex.finalize(h.lm) : 0)
    );
  }

  /**
   * The best hypothesis: by its final score (an unfinished word or hotword match charged as
   * the utterance ending there), or with `complete` false by its running score (the word
   * lexicon's look-ahead standing in for the word being spelled).
   */
  private best(complete = true): Hyp<S> | undefined {
    const score = (h: Hyp<S>) => (complete ? this.finalScore(h) : this.rankOf(h));
    let best: Hyp<S> | undefined;
    for (const h of this.hyps ?? []) if (!best || score(h) > score(best)) best = h;
    return best;
  }

  /**
   * The best hypothesis' symbols so far. `complete` (default true): as if the utterance ended
   * here, the result to keep at an endpoint; false: the partial result while it goes on, which
   * does not charge the word still being spelled as a word outside the lexicon (so it does not
   * flick to a shorter hypothesis that happens to end on a word boundary).
   */
  result(complete = true): DecodedToken[] {
    return tokensOf(this.best(complete)?.last ?? null);
  }

  /** Frames consumed since the stream began. */
  get frames(): number {
    return this.frame;
  }

  /** Frames at the end with no symbol on the best hypothesis (for endpointing). */
  get trailingBlanks(): number {
    return this.best()?.trailing ?? 0;
  }

  /**
   * Starts a new utterance (after an endpoint): keeps the best hypothesis' prediction-network
   * state and output, clears its symbols and scores.
   */
  reset(): void {
    const best = this.best();
    if (!best) return;
    this.predicted.clear(); // the symbols start again from the kept state
    this.hyps = [
      {
        ...best,
        last: null,
        hash: 0,
        logp: 0,
        contextScore: 0,
        lmScore: 0,
        trailing: 0,
        context: this.options.hotwords?.root ?? null,
        lm: this.options.lexicon?.root ?? null,
      },
    ];
  }
}
