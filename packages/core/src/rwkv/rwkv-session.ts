import type { GraphSession } from '../backends/backend.js';
import { BadInputError, DisposedError } from '../errors.js';
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

/**
 * A fixed batch of streams whose state stays inside the backend between calls (on the
 * GPU for the CUDA backend): `forward` sends tokens and gets logits; nothing else
 * crosses. `state()` copies the state out as an ordinary `RwkvState` value whenever it is
 * wanted (to fork, serialize or move a stream). Created by `RwkvModel.openSession`.
 */
export class RwkvSession {
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();

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
