import type {
  Backend,
  Carry,
  CompiledGraph,
  CompileOptions,
  Device,
  InitialValue,
  TensorValue,
  WeightDType,
} from '../backends/backend.js';
import { hostSession } from '../backends/backend.js';
import { backendFor, defaultDevice } from '../backends/registry.js';
import { BadInputError, DisposedError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { RwkvState, type StateSlot, stateSlots } from '../state/rwkv-state.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { stateInputName, stateOutputName } from './blocks.js';
import type { RwkvConfig } from './config.js';
import { buildRwkvGraph, LOGITS_FROM } from './model-graph.js';
import { RwkvSession } from './rwkv-session.js';
import { stateCarry, zeroStateValues } from './state-io.js';

/** How a model runs. */
export interface RwkvModelOptions {
  /** Device; `defaultDevice()` ('cpu', the onnxruntime CPU provider, unless changed) by default. */
  readonly device?: Device;
  /** CPU threads (0/absent: one a physical core, `defaultCpuThreads`). */
  readonly threads?: number;
  /** Weight storage precision inside the backend. */
  readonly weightDType?: WeightDType;
  /**
   * Block quantization of the linear layers (receptance/key/value/gate/output, FFN, the
   * head and the RWKV-6/7 LoRAs): 'int8' or 'int4' weights in blocks of QUANT_BLOCK_SIZE with a scale and zero point each,
   * run by onnxruntime's MatMulNBits. Embeddings, norms, mixes and decays stay float32.
   * Default 'none'.
   */
  readonly quantization?: 'none' | 'int8' | 'int4';
  /** Weights per quantization block (a power of two >= 16). Default QUANT_BLOCK_SIZE. */
  readonly quantizationBlockSize?: number;
}

/**
 * Default block size of the linear-layer quantization (ggml's choice too). Larger blocks
 * read fewer scales per token: RWKV-7 12 x 768 int4 decode measured 68-98 tok/s at 32 and
 * 97.5 at 128 (81 at 256), but the demo LM's int4 bits per byte on 32 KiB of validation
 * text rose from +0.011 (32) to +0.017 (128) over fp32, so 32 stays the default and
 * `quantizationBlockSize` lets speed win where it matters more.
 */
export const QUANT_BLOCK_SIZE = 32;

/** Options of one forward call. */
export interface ForwardOptions {
  /**
   * 'recurrent' feeds tokens one step at a time; 'sequence' runs all T tokens in one
   * call (projections batched over time, the recurrence scanned). Both give the same
   * logits and state. Default 'sequence' when T > 1.
   */
  readonly mode?: 'recurrent' | 'sequence';
  /** Return logits for every position ('all') or the last ('last', default). */
  readonly logits?: 'last' | 'all';
}

/** Result of a forward call. */
export interface ForwardResult {
  /** [batch, positions, nVocab] row-major: positions is T for 'all', 1 for 'last'. */
  readonly logits: Float32Array;
  /** Positions per stream in `logits`. */
  readonly positions: number;
  /** The streams' state after the tokens (a new value; the input state is untouched). */
  readonly state: RwkvState;
}

/**
 * An RWKV language model on a backend. Graphs are built once per mode and compiled
 * lazily; state is passed in and returned, never held, so one model serves any number
 * of streams.
 */
export class RwkvModel {
  private executable: Promise<CompiledGraph> | undefined;
  /** The model's state variables in graph order (computed once: used on every call). */
  private readonly slots: readonly StateSlot[];
  /** Host weights until the model is compiled (then released: the backend holds them). */
  private tensors: ReadonlyMap<string, HostTensor> | undefined;
  private disposed = false;
  /** See `carry()`. */
  private carryNames: Carry | undefined;
  /** See `zeroState()`: by batch size, at most 16 sizes. */
  private readonly zeroStates = new Map<number, Readonly<Record<string, InitialValue>>>();
  private readonly backend: Backend;

  constructor(
    /** Sizes and version. */
    readonly config: RwkvConfig,
    tensors: ReadonlyMap<string, HostTensor>,
    private readonly options: RwkvModelOptions = {},
  ) {
    this.device = options.device ?? defaultDevice();
    this.backend = backendFor(this.device);
    this.tensors = tensors;
    this.slots = stateSlots(config);
  }

  /** The device this model runs on. */
  readonly device: Device;

  /** A fresh state for `batch` streams. */
  createState(batch = 1): RwkvState {
    return RwkvState.create(this.config, batch);
  }

  /**
   * Feeds `tokens[i]` to stream i of `state` (every stream the same length T >= 1).
   * Returns logits and the new state.
   */
  async forward(
    tokens: readonly ArrayLike<number>[],
    state: RwkvState,
    options: ForwardOptions = {},
  ): Promise<ForwardResult> {
    if (this.disposed) throw new DisposedError('RwkvModel');
    const batch = tokens.length;
    if (batch === 0)
      throw new BadInputError('forward needs at least one stream of tokens', { field: 'tokens' });
    const T = tokens[0]!.length;
    if (T === 0) throw new BadInputError('forward needs at least one token per stream', { field: 'tokens' });
    tokens.forEach((t, i) => {
      if (t.length !== T)
        throw new BadInputError(`stream ${i} has ${t.length} tokens, stream 0 has ${T}`, { field: 'tokens' });
      this.validateTokens(t, i);
    });
    state.assertFits(this.config, batch);
    const logitsMode = options.logits ?? 'last';
    const mode = options.mode ?? (T > 1 ? 'sequence' : 'recurrent');
    if (mode === 'sequence') return this.run(tokens, 0, T, state, logitsMode);

    let current = state;
    const all: Float32Array[] = [];
    let last: ForwardResult | undefined;
    for (let t = 0; t < T; t++) {
      last = await this.run(tokens, t, t + 1, current, 'last');
      current = last.state;
      if (logitsMode === 'all') all.push(last.logits);
    }
    if (logitsMode === 'last') return last!;
    const V = this.config.nVocab;
    const logits = new Float32Array(batch * T * V);
    all.forEach((l, t) => {
      for (let b = 0; b < batch; b++) logits.set(l.subarray(b * V, (b + 1) * V), (b * T + t) * V);
    });
    return { logits, positions: T, state: current };
  }

  /** Throws a BadInputError naming the first token that is not an integer in 0..nVocab-1. */
  validateTokens(tokens: ArrayLike<number>, stream = 0): void {
    if (tokens.length === 0) throw new BadInputError(`stream ${stream} has no tokens`, { field: 'tokens' });
    for (let j = 0; j < tokens.length; j++) {
      const tok = tokens[j]!;
      if (!Number.isInteger(tok) || tok < 0 || tok >= this.config.nVocab) {
        throw new BadInputError(
          `token ${tok} at stream ${stream}, position ${j} is outside 0..${this.config.nVocab - 1}`,
          { field: 'tokens' },
        );
      }
    }
  }

  /**
   * Opens a session for the streams of `state`, or for `state` fresh streams when it is a
   * number: their state then stays inside the backend (on the GPU with the CUDA backend)
   * from call to call, and only tokens and logits cross. The fastest way to decode, and to
   * prefill a fresh stream (its zero state is made where it lives: nothing is uploaded);
   * `state` itself is not changed.
   */
  async openSession(state: RwkvState | number): Promise<RwkvSession> {
    if (this.disposed) throw new DisposedError('RwkvModel');
    const fresh = typeof state === 'number';
    const batch = fresh ? state : state.batch;
    if (fresh && !(Number.isInteger(batch) && batch >= 1))
      throw new BadInputError(`a session needs a whole number of streams >= 1, got ${batch}`, {
        field: 'state',
      });
    if (!fresh) state.assertFits(this.config, batch);
    const compiled = await this.compiled();
    const carry = this.carry();
    let initial: Readonly<Record<string, InitialValue>>;
    if (fresh) initial = this.zeroState(batch);
    else {
      const values: Record<string, InitialValue> = {};
      for (const s of this.slots)
        values[stateInputName(s.layer, s.spec.name)] = {
          dtype: 'float32',
          dims: [batch, ...s.spec.shape],
          data: state.get(s.layer, s.spec.name).slice(),
        };
      initial = values;
    }
    const session = compiled.openSession
      ? await compiled.openSession(carry, initial)
      : hostSession(compiled, carry, initial);
    return new RwkvSession(this.config, this.slots, session, batch, (t, i) => this.validateTokens(t, i));
  }

  /** Which state output feeds which state input (made once: a 1.5B model carries 72 values). */
  private carry(): Carry {
    this.carryNames ??= Object.freeze(stateCarry(this.config));
    return this.carryNames;
  }

  /**
   * The zero state of `batch` fresh streams as initial values, made once per batch size and
   * frozen: a prefill opens a session per prompt, and rebuilding 72 descriptions each time
   * took about a tenth of a millisecond of the host's time before the GPU could start. The
   * same objects each time also let a backend reuse what it derived from them.
   */
  private zeroState(batch: number): Readonly<Record<string, InitialValue>> {
    let known = this.zeroStates.get(batch);
    if (!known) {
      const values = zeroStateValues(this.config, batch);
      for (const v of Object.values(values)) {
        Object.freeze(v.dims);
        Object.freeze(v);
      }
      known = Object.freeze(values);
      if (this.zeroStates.size >= 16) this.zeroStates.delete(this.zeroStates.keys().next().value as number);
      this.zeroStates.set(batch, known);
    }
    return known;
  }

  /**
   * Bytes of the model as its backend holds the weights (quantized ones at their quantized
   * size), compiling it if that has not happened yet; undefined when the backend does not
   * say. The yardstick for the model's resident memory.
   */
  async modelBytes(): Promise<number | undefined> {
    if (this.disposed) throw new DisposedError('RwkvModel');
    return (await this.compiled()).modelBytes;
  }

  /** Frees the compiled graphs. The model cannot be used afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const pending = this.executable;
    this.executable = undefined;
    // A compilation that failed holds nothing to free (its error went to the call that needed it).
    const compiled = await pending?.catch(() => undefined);
    await compiled?.dispose();
  }

  /**
   * The compiled model, built on first use: the recurrent graph (T = 1) and the sequence
   * graph as one executable holding the weights once, after which the host copy of the
   * weights is released.
   */
  private compiled(): Promise<CompiledGraph> {
    if (!this.executable) {
      const weights = this.tensors;
      if (!weights) throw new DisposedError('RwkvModel weights');
      const options: CompileOptions = {
        device: this.device,
        ...(this.options.threads ? { threads: this.options.threads } : {}),
        ...(this.options.weightDType ? { weightDType: this.options.weightDType } : {}),
        ...(this.options.quantization && this.options.quantization !== 'none'
          ? {
              quantization: {
                bits: this.options.quantization === 'int4' ? 4 : 8,
                blockSize: this.options.quantizationBlockSize ?? QUANT_BLOCK_SIZE,
              },
            }
          : {}),
      };
      const step = buildRwkvGraph(this.config, weights, {
        mode: 'recurrent',
        blocks: { mergeStepLoras: this.backend.prefersFewerNodes ?? false },
      });
      const sequence = buildRwkvGraph(this.config, weights, { mode: 'sequence' });
      const pending = compileByTime(this.backend, step, sequence, options);
      this.executable = pending;
      pending.then(
        () => {
          this.tensors = undefined;
        },
        () => {
          // Forget a failed compilation so that a later call can try again.
          if (this.executable === pending) this.executable = undefined;
        },
      );
    }
    return this.executable;
  }

  private async run(
    tokens: readonly ArrayLike<number>[],
    from: number,
    to: number,
    state: RwkvState,
    which: 'last' | 'all',
  ): Promise<ForwardResult> {
    const batch = tokens.length;
    const T = to - from;
    const ids = new Int32Array(batch * T);
    tokens.forEach((t, b) => {
      for (let j = 0; j < T; j++) ids[b * T + j] = t[from + j]!;
    });
    const feeds: Record<string, TensorValue> = {
      tokens: { dtype: 'int32', dims: [batch, T], data: ids },
      [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(which === 'last' ? T - 1 : 0) },
    };
    const slots = this.slots;
    for (const s of slots) {
      feeds[stateInputName(s.layer, s.spec.name)] = {
        dtype: 'float32',
        dims: [batch, ...s.spec.shape],
        data: state.get(s.layer, s.spec.name),
      };
    }
    const out = await (await this.compiled()).run(feeds);
    const arrays = new Map<string, Float32Array>();
    for (const s of slots)
      arrays.set(s.key, out[stateOutputName(s.layer, s.spec.name)]!.data as Float32Array);
    const logits = out['logits']!;
    return {
      logits: logits.data as Float32Array,
      positions: logits.dims[1]!,
      state: RwkvState.fromArrays(this.config, batch, arrays),
    };
  }
}

/**
 * Compiles a model's recurrent and sequence graphs as one executable: natively when the
 * backend can (weights held once), else as two compiled graphs picked by the time axis.
 */
async function compileByTime(
  backend: Backend,
  step: Graph,
  sequence: Graph,
  options: CompileOptions,
): Promise<CompiledGraph> {
  if (backend.compileByTime) return backend.compileByTime(step, sequence, 'tokens', options);
  const [a, b] = await Promise.all([backend.compile(step, options), backend.compile(sequence, options)]);
  return {
    run: (inputs) => (inputs['tokens']!.dims[1] === 1 ? a.run(inputs) : b.run(inputs)),
    ...(a.modelBytes !== undefined && b.modelBytes !== undefined
      ? { modelBytes: a.modelBytes + b.modelBytes }
      : {}),
    async dispose() {
      await a.dispose();
      await b.dispose();
    },
  };
}
