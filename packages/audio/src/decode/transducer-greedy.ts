import { BadInputError } from '@rwkv-streams/core';
import type { DecodedToken } from './tokens.js';
import { topK } from './tokens.js';
import type { Joiner, PredictionNetwork } from './transducer.js';
import { BLANK } from './vocabulary.js';

/**
 * Streaming transducer greedy search: per encoder frame, the joiner's best symbol; a
 * non-blank symbol is emitted and fed to the prediction network, up to `maxSymbolsPerFrame`
 * symbols a frame (default 1, as sherpa-onnx does). Encoder frames may arrive in any
 * chunking.
 */
export class TransducerGreedySearch<S> {
  private state: { state: S; out: Float32Array } | undefined;
  private out: DecodedToken[] = [];
  private frame = 0;
  private trailing = 0;

  constructor(
    private readonly prediction: PredictionNetwork<S>,
    private readonly joiner: Joiner,
    private readonly maxSymbolsPerFrame = 1,
  ) {
    if (!Number.isInteger(maxSymbolsPerFrame) || maxSymbolsPerFrame < 1)
      throw new BadInputError(`maxSymbolsPerFrame must be an integer >= 1, got ${maxSymbolsPerFrame}`, {
        field: 'maxSymbolsPerFrame',
      });
  }

  /** Consumes encoder frames (`frames` rows of `dim` values). */
  async accept(encoder: Float32Array, frames: number, dim: number): Promise<void> {
    if (encoder.length !== frames * dim)
      throw new BadInputError(`encoder output holds ${encoder.length} values, not ${frames} x ${dim}`, {
        field: 'encoder',
      });
    this.state ??= await this.prediction.start();
    for (let f = 0; f < frames; f++) {
      const enc = encoder.subarray(f * dim, (f + 1) * dim);
      let emitted = 0;
      while (emitted < this.maxSymbolsPerFrame) {
        const [logits] = await this.joiner.join(enc, [this.state.out]);
        const best = topK(logits!, 1)[0]!;
        if (best === BLANK) break;
        this.out.push({ id: best, frame: this.frame });
        const { states, outs } = await this.prediction.step([this.state.state], [best]);
        this.state = { state: states[0]!, out: outs[0]! };
        emitted++;
      }
      this.trailing = emitted === 0 ? this.trailing + 1 : 0;
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

  /** Frames at the end with no symbol (for endpointing). */
  get trailingBlanks(): number {
    return this.trailing;
  }

  /**
   * Starts a new utterance (after an endpoint): the symbols are cleared; the prediction
   * network's state is kept, as sherpa-onnx keeps its decoder context across endpoints.
   */
  reset(): void {
    this.out = [];
    this.trailing = 0;
  }
}
