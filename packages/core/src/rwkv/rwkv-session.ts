import type { GraphSession } from '../backends/backend.js';
import { BadInputError, BadStateError, DisposedError } from '../errors.js';
import { checkDrawOptions, drawToken, type TokenDrawOptions } from '../lm/token-draw.js';
import { RwkvState, type StateSlot } from '../state/rwkv-state.js';
import { stateInputName } from './blocks.js';
import type { RwkvConfig } from './config.js';
import { LOGITS_FROM } from './model-graph.js';

/** Logits of one session call. */
export interface SessionResult {
  /** [batch, positions, nVocab] row-major. */
  readonly logits: Float32Array;
  /** Positions per stream: T for 'all', 1 for 'last'. */
  readonly positions: number;
}

/** Options of `RwkvSession.generate`: how many tokens, and how they are drawn. */
export interface SessionGenerateOptions extends TokenDrawOptions {
  /** Tokens to draw a stream (a whole number >= 1). */
  readonly steps: number;
}

/**
 * A fixed batch of streams whose state stays inside the backend between calls (on the
 * GPU for the CUDA backend): `forward` sends tokens and gets logits; nothing else
 * crosses. `state()` copies the state out as an ordinary `RwkvState` value whenever it is
 * wanted (to fork, serialize or move a stream). Created by `RwkvModel.openSession`.
 */
export class RwkvSession {
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Tokens drawn a stream so far: the step number of the next draw (`drawKey`). */
  private drawn = 0;

  constructor(
    private readonly config: RwkvConfig,
    private readonly slots: readonly StateSlot[],
    private readonly session: GraphSession,
    /** Streams in the batch. */
    readonly batch: number,
    private readonly validate: (tokens: ArrayLike<number>, stream: number) => void,
  ) {}

  /**
   * Feeds `tokens[i]` to stream i (all of one length T >= 1; T > 1 runs the sequence form
   * in one call). Returns the logits at the last position, or at every position.
   *
   * `into`: an array of batch x positions x nVocab floats that the logits are written into
   * (and returned as `logits`) instead of a new array. Reuse one across steps when many
   * streams decode together: at 64 streams a new 16 MB array every step cost more than the
   * step itself on a GPU (measured on an H200, packages/cuda/README.md).
   */
  forward(
    tokens: readonly ArrayLike<number>[],
    options: { logits?: 'last' | 'all'; into?: Float32Array } = {},
  ): Promise<SessionResult> {
    return this.serial(async () => {
      if (this.disposed) throw new DisposedError('RwkvSession');
      if (tokens.length !== this.batch)
        throw new BadInputError(`the session has ${this.batch} streams, got tokens for ${tokens.length}`, {
          field: 'tokens',
        });
      const T = tokens[0]!.length;
      tokens.forEach((t, i) => {
        if (t.length !== T)
          throw new BadInputError(`stream ${i} has ${t.length} tokens, stream 0 has ${T}`, {
            field: 'tokens',
          });
        this.validate(t, i);
      });
      const positions = options.logits === 'all' ? T : 1;
      const wanted = this.batch * positions * this.config.nVocab;
      if (options.into && options.into.length !== wanted)
        throw new BadInputError(
          `'into' holds ${options.into.length} floats; the logits of ${this.batch} streams x ${positions} positions x ${this.config.nVocab} are ${wanted}`,
          { field: 'into' },
        );
      const ids = new Int32Array(this.batch * T);
      tokens.forEach((t, b) => {
        for (let j = 0; j < T; j++) ids[b * T + j] = t[j]!;
      });
      const out = await this.session.run(
        {
          tokens: { dtype: 'int32', dims: [this.batch, T], data: ids },
          [LOGITS_FROM]: {
            dtype: 'int32',
            dims: [1],
            data: Int32Array.of(options.logits === 'all' ? 0 : T - 1),
          },
        },
        options.into ? { logits: options.into } : undefined,
      );
      const logits = out['logits']!;
      return { logits: logits.data as Float32Array, positions: logits.dims[1]! };
    });
  }

  /**
   * Decodes `steps` tokens a stream: feeds `first[i]` to stream i, draws a token from the
   * logits (lm/token-draw.ts: the argmax at temperature 0, else a Gumbel-max draw at the
   * temperature, reproducible from the seed), feeds it, and so on. Returns each stream's
   * drawn tokens. The last drawn token is not fed: the state has read `first` and the
   * draws before the last, so the next call continues with `generate(lastTokens, ...)`
   * (or `forward`); draws continue their numbering across calls, so two calls of n steps
   * draw what one call of 2n would.
   *
   * Where the backend can (the CUDA backend), every draw happens on the device and the
   * steps run back to back without the host: only the tokens come back, once. Elsewhere
   * each step is a `forward` and the draw is made on the host, by the same rule.
   */
  generate(first: ArrayLike<number>, options: SessionGenerateOptions): Promise<Int32Array[]> {
    return this.serial(async () => {
      if (this.disposed) throw new DisposedError('RwkvSession');
      const { temperature, seed } = checkDrawOptions(options);
      const steps = options.steps;
      if (!(Number.isInteger(steps) && steps >= 1))
        throw new BadInputError(`steps must be a whole number >= 1, got ${steps}`, { field: 'steps' });
      if (first.length !== this.batch)
        throw new BadInputError(`the session has ${this.batch} streams, got ${first.length} first tokens`, {
          field: 'first',
        });
      const ids = Int32Array.from(first);
      for (let b = 0; b < this.batch; b++) this.validate([ids[b]!], b);
      const V = this.config.nVocab;
      const firstStep = this.drawn;
      let drawn: Int32Array;
      if (this.session.draw) {
        drawn = await this.session.draw({
          inputs: {
            tokens: { dtype: 'int32', dims: [this.batch, 1], data: ids },
            [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(0) },
          },
          feed: 'tokens',
          from: 'logits',
          steps,
          temperature,
          seed,
          firstStep,
        });
      } else {
        drawn = new Int32Array(this.batch * steps);
        const logits = new Float32Array(this.batch * V);
        const fed = ids.slice();
        for (let s = 0; s < steps; s++) {
          const out = await this.session.run(
            {
              tokens: { dtype: 'int32', dims: [this.batch, 1], data: fed },
              [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(0) },
            },
            { logits },
          );
          const row = out['logits']!.data as Float32Array;
          for (let b = 0; b < this.batch; b++) {
            const t = drawToken(row.subarray(b * V, (b + 1) * V), temperature, seed, b, firstStep + s);
            drawn[b * steps + s] = t;
            fed[b] = Math.max(t, 0); // an all-NaN row is reported below
          }
        }
      }
      this.drawn += steps;
      const nan = drawn.indexOf(-1);
      if (nan >= 0)
        throw new BadStateError(
          `stream ${Math.floor(nan / steps)}'s logits were all NaN at draw ${firstStep + (nan % steps)}: the state or the weights hold NaN`,
          { field: 'logits' },
        );
      return Array.from({ length: this.batch }, (_, b) => drawn.subarray(b * steps, (b + 1) * steps));
    });
  }

  /** The streams' state now, as a value (a copy: later calls do not change it). */
  state(): Promise<RwkvState> {
    return this.serial(async () => {
      if (this.disposed) throw new DisposedError('RwkvSession');
      const values = await this.session.read();
      const arrays = new Map<string, Float32Array>();
      for (const s of this.slots)
        arrays.set(s.key, values[stateInputName(s.layer, s.spec.name)]!.data as Float32Array);
      return RwkvState.fromArrays(this.config, this.batch, arrays);
    });
  }

  /** Frees the session's state on the backend. */
  dispose(): Promise<void> {
    return this.serial(async () => {
      if (this.disposed) return;
      this.disposed = true;
      await this.session.dispose();
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
