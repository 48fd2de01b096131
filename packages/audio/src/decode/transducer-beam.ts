import { BadInputError } from '@rwkv-streams/core';
import type { ContextGraph, ContextState } from './context-graph.js';
import type { DecodedToken } from './tokens.js';
import { logAddExp, logSoftmaxRow, topK } from './tokens.js';
import type { Joiner, PredictionNetwork } from './transducer.js';
import { BLANK } from './vocabulary.js';

/** Options of transducer modified beam search. */
export interface TransducerBeamOptions {
  /** Hypotheses kept after each frame (default 4, sherpa-onnx's default). */
  readonly beam?: number;
  /** Hotwords to boost. */
  readonly hotwords?: ContextGraph;
}

interface Hyp<S> {
  readonly tokens: DecodedToken[];
  logp: number;
  readonly state: S;
  readonly out: Float32Array;
  readonly context: ContextState | null;
  readonly contextScore: number;
  /** Frames at the end with no symbol on this hypothesis. */
  readonly trailing: number;
}

const keyOf = (tokens: readonly DecodedToken[]) => tokens.map((t) => t.id).join(',');

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

  constructor(
    private readonly prediction: PredictionNetwork<S>,
    private readonly joiner: Joiner,
    private readonly options: TransducerBeamOptions = {},
  ) {
    this.beam = options.beam ?? 4;
    if (!Number.isInteger(this.beam) || this.beam < 1)
      throw new BadInputError(`beam must be an integer >= 1, got ${this.beam}`, { field: 'beam' });
  }

  /** Consumes encoder frames (`frames` rows of `dim` values). */
  async accept(encoder: Float32Array, frames: number, dim: number): Promise<void> {
    if (encoder.length !== frames * dim)
      throw new BadInputError(`encoder output holds ${encoder.length} values, not ${frames} x ${dim}`, {
        field: 'encoder',
      });
    if (!this.hyps) await this.startHyps([]);
    for (let f = 0; f < frames; f++) await this.step(encoder.subarray(f * dim, (f + 1) * dim));
  }

  private async startHyps(tokens: DecodedToken[]): Promise<void> {
    const { state, out } = await this.prediction.start();
    const context = this.options.hotwords?.root ?? null;
    this.hyps = [{ tokens, logp: 0, state, out, context, contextScore: 0, trailing: 0 }];
  }

  private async step(enc: Float32Array): Promise<void> {
    const hyps = this.hyps!;
    const logits = await this.joiner.join(
      enc,
      hyps.map((h) => h.out),
    );
    // Candidates: each hypothesis' best symbols, then the beam best over all.
    const cands: { h: Hyp<S>; sym: number; logp: number; rank: number }[] = [];
    hyps.forEach((h, i) => {
      const lp = logSoftmaxRow(logits[i]!);
      for (const sym of topK(lp, Math.min(this.beam, lp.length))) {
        const logp = h.logp + lp[sym]!;
        const bonus = sym === BLANK || !h.context ? 0 : this.options.hotwords!.step(h.context, sym).delta;
        cands.push({ h, sym, logp, rank: logp + h.contextScore + bonus });
      }
    });
    cands.sort((a, b) => b.rank - a.rank);
    const chosen = cands.slice(0, this.beam);
    const emitting = chosen.filter((c) => c.sym !== BLANK);
    const advanced = emitting.length
      ? await this.prediction.step(
          emitting.map((c) => c.h.state),
          emitting.map((c) => c.sym),
        )
      : { states: [], outs: [] };
    const merged = new Map<string, Hyp<S>>();
    let e = 0;
    for (const c of chosen) {
      let hyp: Hyp<S>;
      if (c.sym === BLANK) {
        hyp = { ...c.h, logp: c.logp, trailing: c.h.trailing + 1 };
      } else {
        const moved = c.h.context ? this.options.hotwords!.step(c.h.context, c.sym) : null;
        hyp = {
          tokens: [...c.h.tokens, { id: c.sym, frame: this.frame }],
          logp: c.logp,
          state: advanced.states[e]!,
          out: advanced.outs[e]!,
          context: moved ? moved.state : null,
          contextScore: c.h.contextScore + (moved ? moved.delta : 0),
          trailing: 0,
        };
        e++;
      }
      const key = keyOf(hyp.tokens);
      const same = merged.get(key);
      if (same) same.logp = logAddExp(same.logp, hyp.logp);
      else merged.set(key, hyp);
    }
    this.hyps = [...merged.values()];
    this.frame++;
  }

  private finalScore(h: Hyp<S>): number {
    const hw = this.options.hotwords;
    return h.logp + h.contextScore + (hw && h.context ? hw.finalize(h.context) : 0);
  }

  private best(): Hyp<S> | undefined {
    let best: Hyp<S> | undefined;
    for (const h of this.hyps ?? []) if (!best || this.finalScore(h) > this.finalScore(best)) best = h;
    return best;
  }

  /** The best hypothesis' symbols so far. */
  result(): DecodedToken[] {
    return [...(this.best()?.tokens ?? [])];
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
    this.hyps = [
      {
        ...best,
        tokens: [],
        logp: 0,
        contextScore: 0,
        trailing: 0,
        context: this.options.hotwords?.root ?? null,
      },
    ];
  }
}
