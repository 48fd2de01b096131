import { BadInputError } from '@rwkv-streams/core';
import type { ContextGraph, ContextState } from './context-graph.js';
import { extendHash, type KeyedPrefix, PrefixSet, type TokenLink, tokensOf } from './prefix-links.js';
import type { DecodedToken, FrameScores } from './tokens.js';
import { checkFrameScores, logAddExp, logSoftmaxRow, topK } from './tokens.js';
import { BLANK } from './vocabulary.js';
import type { LexiconState, WordLexicon } from './word-lexicon.js';

/** Options of CTC prefix beam search. */
export interface CtcBeamOptions {
  /** Prefixes kept after each frame (default 8). */
  readonly beam?: number;
  /** Symbols of each frame considered, the most likely first (default: the beam size). */
  readonly topSymbols?: number;
  /** Hotwords to boost (the graph's bonus is added per matched token). */
  readonly hotwords?: ContextGraph;
  /** A word language model fused into the prefix scores (shallow fusion). */
  readonly lexicon?: WordLexicon;
}

interface Prefix extends KeyedPrefix {
  /** log P(prefix, path ends in blank) and log P(prefix, path ends in its last symbol). */
  pb: number;
  pnb: number;
  readonly context: ContextState | null;
  readonly contextScore: number;
  readonly lm: LexiconState | null;
  readonly lmScore: number;
  /** The running score, set once a frame's prefixes are complete (to rank them). */
  rank: number;
}

const NEG = Number.NEGATIVE_INFINITY;

/**
 * Streaming CTC prefix beam search over per-frame logits: keeps the `beam` most likely
 * label prefixes (summing over every alignment that collapses to them), with optional
 * hotword boosting. Frames may arrive in any chunking; the hypotheses carry over, so the
 * result equals that of the whole input.
 */
export class CtcPrefixBeamSearch {
  private beams: Prefix[] = [];
  private frame = 0;
  private readonly beam: number;
  private readonly topSymbols: number;
  private trailing = 0;
  private readonly row: Float32Array;

  constructor(
    readonly vocab: number,
    private readonly options: CtcBeamOptions = {},
  ) {
    this.beam = options.beam ?? 8;
    this.topSymbols = Math.min(options.topSymbols ?? this.beam, vocab);
    if (!Number.isInteger(this.beam) || this.beam < 1)
      throw new BadInputError(`beam must be an integer >= 1, got ${this.beam}`, { field: 'beam' });
    this.row = new Float32Array(vocab);
    this.reset();
  }

  /** Consumes frames of logits (log-softmax is taken per frame). */
  accept(scores: FrameScores): void {
    checkFrameScores(scores, this.vocab);
    const V = this.vocab;
    for (let f = 0; f < scores.frames; f++) {
      const lp = logSoftmaxRow(scores.data.subarray(f * V, (f + 1) * V), this.row);
      this.step(lp);
      // Trailing silence as frames whose most likely symbol is the blank (sherpa-onnx
      // counts trailing blanks the same way), for endpointing.
      this.trailing = topK(lp, 1)[0] === BLANK ? this.trailing + 1 : 0;
      this.frame++;
    }
  }

  private step(lp: Float32Array): void {
    const next = new PrefixSet<Prefix>();
    // The prefix p itself (its path extended by a blank, or by its last symbol repeated)
    const same = (p: Prefix, pb: number, pnb: number) => {
      let q = next.get(p.hash, p.last);
      if (!q) {
        q = { ...p, pb: NEG, pnb: NEG };
        next.add(q);
      }
      q.pb = logAddExp(q.pb, pb);
      q.pnb = logAddExp(q.pnb, pnb);
    };
    const symbols = topK(lp, this.topSymbols);
    if (!symbols.includes(BLANK)) symbols.push(BLANK);
    for (const p of this.beams) {
      const total = logAddExp(p.pb, p.pnb);
      const last = p.last?.token.id;
      for (const c of symbols) {
        const s = lp[c]!;
        if (c === BLANK) {
          same(p, total + s, NEG);
        } else if (c === last) {
          // Repeat without a blank between: the same prefix; after a blank: a new symbol.
          same(p, NEG, p.pnb + s);
          this.extend(next, p, c, p.pb + s);
        } else {
          this.extend(next, p, c, total + s);
        }
      }
    }
    // Prefixes no alignment reaches (a repeat right after itself) are dropped.
    const live = next.list.filter((p) => p.pb > NEG || p.pnb > NEG);
    for (const p of live) p.rank = this.score(p);
    this.beams = live.sort((a, b) => b.rank - a.rank).slice(0, this.beam);
  }

  private extend(next: PrefixSet<Prefix>, p: Prefix, c: number, pnb: number): void {
    const hash = extendHash(p.hash, c);
    const link: TokenLink = {
      token: { id: c, frame: this.frame },
      prev: p.last,
      length: (p.last?.length ?? 0) + 1,
    };
    let q = next.get(hash, link);
    if (!q) {
      const hw = this.options.hotwords;
      const moved = hw && p.context ? hw.step(p.context, c) : null;
      const lm = p.lm !== null ? this.options.lexicon!.step(p.lm, c) : null;
      q = {
        last: link,
        hash,
        pb: NEG,
        pnb: NEG,
        context: moved ? moved.state : p.context,
        contextScore: p.contextScore + (moved ? moved.delta : 0),
        lm: lm ? lm.state : null,
        lmScore: p.lmScore + (lm ? lm.delta : 0),
        rank: NEG,
      };
      next.add(q);
    }
    q.pnb = logAddExp(q.pnb, pnb);
  }

  private score(p: Prefix): number {
    return logAddExp(p.pb, p.pnb) + p.contextScore + p.lmScore;
  }

  /** The best prefix by its final score, or with `complete` false by its running score. */
  private best(complete = true): Prefix {
    const score = (p: Prefix) => (complete ? this.finalScore(p) : this.score(p));
    let best: Prefix | undefined;
    for (const p of this.beams) if (!best || score(p) > score(best)) best = p;
    return best!;
  }

  private finalScore(p: Prefix): number {
    const hw = this.options.hotwords;
    const lex = this.options.lexicon;
    return (
      this.score(p) +
      (hw && p.context ? hw.finalize(p.context) : 0) +
      (lex && p.lm !== null ? lex.finalize(p.lm) : 0)
    );
  }

  /**
   * The most likely symbols so far. `complete` (default true): as if the utterance ended here
   * (unfinished hotword matches and words do not count); false: the partial result while it
   * goes on, ranked by the running score (look-ahead included).
   */
  result(complete = true): DecodedToken[] {
    return tokensOf(this.best(complete).last);
  }

  /** The kept hypotheses, best first, with their scores (for n-best output). */
  nbest(): { tokens: DecodedToken[]; score: number }[] {
    return this.beams
      .map((p) => ({ tokens: tokensOf(p.last), score: this.finalScore(p) }))
      .sort((a, b) => b.score - a.score);
  }

  /** Frames consumed since the stream began. */
  get frames(): number {
    return this.frame;
  }

  /** Frames at the end whose most likely symbol is the blank (for endpointing). */
  get trailingBlanks(): number {
    return this.trailing;
  }

  /** Starts a new utterance (after an endpoint); frame numbers keep counting. */
  reset(): void {
    const root = this.options.hotwords?.root ?? null;
    const lm = this.options.lexicon?.root ?? null;
    this.beams = [
      { last: null, hash: 0, pb: 0, pnb: NEG, context: root, contextScore: 0, lm, lmScore: 0, rank: 0 },
    ];
    this.trailing = 0;
  }
}
