import type { DecodedToken, FrameScores } from './tokens.js';
import { checkFrameScores } from './tokens.js';
import { BLANK } from './vocabulary.js';

/**
 * Streaming CTC greedy decoding: the best symbol of each frame, repeats merged, blanks
 * dropped. Frames may arrive in any chunking; the result is the same as for the whole.
 */
export class CtcGreedyDecoder {
  private prev = BLANK;
  private frame = 0;
  private out: DecodedToken[] = [];
  private trailing = 0;

  /** @param vocab symbols per frame (blank included) */
  constructor(readonly vocab: number) {}

  /** Consumes frames of scores (logits or log-probabilities: the argmax is the same). */
  accept(scores: FrameScores): void {
    checkFrameScores(scores, this.vocab);
    const { data, frames, vocab } = scores;
    for (let f = 0; f < frames; f++) {
      let best = 0;
      let bestScore = data[f * vocab]!;
      for (let v = 1; v < vocab; v++) {
        const s = data[f * vocab + v]!;
        if (s > bestScore) {
          bestScore = s;
          best = v;
        }
      }
      if (best !== BLANK && best !== this.prev) this.out.push({ id: best, frame: this.frame });
      this.trailing = best === BLANK ? this.trailing + 1 : 0;
      this.prev = best;
      this.frame++;
    }
  }

  /** Symbols decoded since the last reset. */
  result(): DecodedToken[] {
    return [...this.out];
  }

  /** Frames consumed since the stream began. */
  get frames(): number {
    return this.frame;
  }

  /** Blank frames at the end (trailing silence, for endpointing). */
  get trailingBlanks(): number {
    return this.trailing;
  }

  /** Starts a new utterance (after an endpoint); frame numbers keep counting. */
  reset(): void {
    this.out = [];
    this.prev = BLANK;
    this.trailing = 0;
  }
}
