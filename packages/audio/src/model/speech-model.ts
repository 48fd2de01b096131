import {
  BadInputError,
  CompiledGraphCache,
  type Device,
  type HostTensor,
  RwkvState,
  stateInputName,
  stateOutputName,
  stateSlots,
  type TensorValue,
  TIME,
} from '@rwkv-streams/core';
import type { Joiner, PredictionNetwork } from '../decode/transducer.js';
import { BLANK } from '../decode/vocabulary.js';
import { checkSpeechTensors, ctcFramesOf, type SpeechModelConfig } from './speech-config.js';
import {
  buildEncoderGraph,
  buildJoinerGraph,
  buildPredictorGraph,
  STEM_STATE,
  STEM_STATE_OUT,
} from './speech-graphs.js';

/** The encoder's carried state for a batch of streams: the stem's last frame group and the RWKV state. */
export interface EncoderState {
  /** [B, S F]: the previous step's frames (zeros before the first). */
  readonly stem: Float32Array;
  readonly rwkv: RwkvState;
}

/** What one encoder call returns. */
export interface EncoderResult {
  /** [B, T, d] row-major. */
  readonly encoderOut: Float32Array;
  /** [B, T K, V] row-major: K = `ctcFrames` CTC frames per step (1 for most models). */
  readonly ctcLogits: Float32Array;
  /** [B, T]: the voice-activity head's logit of speech per step (models that have the head). */
  readonly vadLogits?: Float32Array;
  readonly state: EncoderState;
}

/** Where and how the speech model runs. */
export interface SpeechModelOptions {
  /** Where the encoder runs (default 'cpu'). */
  readonly device?: Device;
  /**
   * Where the transducer search's prediction network runs (default 'cpu', whatever `device`
   * is). It is tiny and called once or more per encoder step per stream, so on a GPU each
   * call is a round trip that costs more than its work: with a 'cuda' encoder, an H200
   * sustained 84 real-time streams with the search on the CPU against 59 with it on the GPU
   * (packages/audio/README.md, "Speed and memory"). The joiner runs there too.
   */
  readonly searchDevice?: Device;
  /**
   * CPU threads (onnxruntime's intra-op threads) for the encoder when it runs on the CPU.
   * The transducer search's prediction network and joiner always run on one thread: they
   * are tiny, called many times per encoder step, and a thread pool for each of them costs
   * more than it saves (2 threads doubled a stream's real-time factor on a 2-core machine,
   * packages/audio/README.md, "Speed and memory").
   */
  readonly threads?: number;
}

const f32 = (dims: number[], data: Float32Array): TensorValue => ({ dtype: 'float32', dims, data });

/** Whether two arrays hold the same values (a frame's 256 compare in well under a microsecond). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The speech model on a backend: the encoder (chunk by chunk, state carried: a chunk of any
 * number of 40 ms steps gives the same outputs as the steps one at a time), and the
 * transducer's prediction network and joiner in the form the decoders take, batched over
 * hypotheses.
 */
export class SpeechModel {
  private readonly graphs: CompiledGraphCache<'step' | 'chunk'>;
  private readonly searchGraphs: CompiledGraphCache<'predictor' | 'joiner' | 'joiner-frame'>;
  /**
   * Each encoder frame's joiner projection, kept for the frame's array with a copy of the
   * values it was made from (see `joiner`): an array written again with another frame is
   * projected again.
   */
  /** Whether the joiner's graph for known frames has been asked for (see `joiner`). */
  private joinerAsked = false;
  private readonly frameProjections = new WeakMap<
    Float32Array,
    { readonly values: Float32Array; readonly projection: Float32Array }
  >();
  /**
   * Reused input buffers of the prediction network's batched state (one set a call in
   * flight): a fresh 0.5 MB array for 16 hypotheses cost about 0.15 ms of page faults a
   * step, against 5 us to fill a reused one.
   */
  private readonly predictorInputs: Map<string, Float32Array>[] = [];

  private constructor(
    readonly config: SpeechModelConfig,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    options: SpeechModelOptions,
  ) {
    this.graphs = new CompiledGraphCache('speech model', {
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
    });
    const searchDevice = options.searchDevice ?? 'cpu';
    // One thread, whatever `threads` says: see SpeechModelOptions.threads.
    this.searchGraphs = new CompiledGraphCache('speech model search', { device: searchDevice, threads: 1 });
  }

  /** A model from its weights (names and shapes checked; typed errors name the tensor). */
  static create(
    config: SpeechModelConfig,
    tensors: ReadonlyMap<string, HostTensor>,
    options: SpeechModelOptions = {},
  ): SpeechModel {
    checkSpeechTensors(config, tensors);
    return new SpeechModel(config, tensors, options);
  }

  /** Number of weights (all tensors' elements). */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  /** Whether the weights include the voice-activity head (`vad.weight`, `vad.bias`). */
  get hasVadHead(): boolean {
    return this.tensors.has('vad.weight');
  }

  /** Seconds of audio per encoder step (10 ms frames x the stack). */
  get stepSeconds(): number {
    return 0.01 * this.config.stack;
  }

  /** CTC frames per encoder step (K: `ctcLogits` holds K frames of V logits a step). */
  get ctcFrames(): number {
    return ctcFramesOf(this.config);
  }

  /** Seconds of audio per CTC frame (the step divided by `ctcFrames`). */
  get ctcFrameSeconds(): number {
    return this.stepSeconds / this.ctcFrames;
  }

  /** A fresh encoder state for `batch` streams. */
  createEncoderState(batch = 1): EncoderState {
    const { stack, featureDim } = this.config;
    return {
      stem: new Float32Array(batch * stack * featureDim),
      rwkv: RwkvState.create(this.config.encoder, batch),
    };
  }

  /**
   * Runs `steps` encoder steps for the batch of `state`: `groups` holds [B, steps, S F]
   * filterbank values (S frames of F bins a step, the frames of each stream in order).
   */
  async encode(groups: Float32Array, steps: number, state: EncoderState): Promise<EncoderResult> {
    const { stack: S, featureDim: F, encoder, vocab } = this.config;
    const B = state.rwkv.batch;
    if (!Number.isInteger(steps) || steps < 1 || groups.length !== B * steps * S * F)
      throw new BadInputError(
        `encoder input holds ${groups.length} values, not batch x steps x (${S} frames x ${F} bins) = ${B} x ${steps} x ${S * F}`,
        { field: 'groups' },
      );
    const key = steps === 1 ? 'step' : 'chunk';
    const graph = await this.graphs.get(key, () =>
      buildEncoderGraph(this.config, this.tensors, key === 'step' ? 1 : TIME),
    );
    const feeds: Record<string, TensorValue> = {
      groups: f32([B, steps, S * F], groups),
      [STEM_STATE]: f32([B, S * F], state.stem),
    };
    for (const s of stateSlots(encoder))
      feeds[stateInputName(s.layer, s.spec.name)] = f32(
        [B, ...s.spec.shape],
        state.rwkv.get(s.layer, s.spec.name),
      );
    const out = await graph.run(feeds);
    const next = new Map(
      stateSlots(encoder).map((s) => [
        s.key,
        out[stateOutputName(s.layer, s.spec.name)]!.data as Float32Array,
      ]),
    );
    const encoderOut = out['encoder_out']!.data as Float32Array;
    const ctcLogits = out['ctc_logits']!.data as Float32Array;
    if (ctcLogits.length !== B * steps * this.ctcFrames * vocab)
      throw new Error('speech encoder: unexpected CTC output size');
    const vad = out['vad_logits']?.data as Float32Array | undefined;
    return {
      encoderOut,
      ctcLogits,
      ...(vad ? { vadLogits: vad } : {}),
      state: {
        stem: out[STEM_STATE_OUT]!.data as Float32Array,
        rwkv: RwkvState.fromArrays(encoder, B, next),
      },
    };
  }

  /** The prediction network for the transducer decoders (one RWKV state per hypothesis). */
  readonly prediction: PredictionNetwork<RwkvState> = {
    start: async () => {
      const { states, outs } = await this.predict([RwkvState.create(this.config.predictor, 1)], [BLANK]);
      return { state: states[0]!, out: outs[0]! };
    },
    step: (states, tokens) => this.predict(states, tokens),
  };

  /**
   * The joiner for the transducer decoders, in its split form (`buildJoinerGraph`): the
   * prediction network's outputs arrive projected, and a frame is projected by the first call
   * that joins it, its projection remembered for the frame's array object while that array
   * holds the same values (the beam search joins one frame once per expansion, with the same
   * array).
   */
  readonly joiner: Joiner = {
    join: async (frame, preds) => {
      const { encoder, joinerDim: J, vocab } = this.config;
      const N = preds.length;
      if (frame.length !== encoder.nEmbd)
        throw new BadInputError(`encoder frame has ${frame.length} values, not ${encoder.nEmbd}`, {
          field: 'enc',
        });
      const pred = new Float32Array(N * J);
      preds.forEach((p, i) => {
        if (p.length !== J)
          throw new BadInputError(`joiner: a prediction has ${p.length} values, not ${J} (projected)`, {
            field: 'pred',
          });
        pred.set(p, i * J);
      });
      const kept = this.frameProjections.get(frame);
      const known = kept && sameValues(kept.values, frame) ? kept.projection : undefined;
      const build = (projectFrame: boolean) => () =>
        buildJoinerGraph(this.config, this.tensors, projectFrame);
      const graph = known
        ? await this.searchGraphs.get('joiner', build(false))
        : await this.searchGraphs.get('joiner-frame', build(true));
      // compiled with the first (so that a warm-up that never emits a symbol, and so never
      // joins a frame twice, leaves no compilation to the first word); asked for once, not at
      // every new frame; its errors, if any, surface where it is used
      if (!this.joinerAsked) {
        this.joinerAsked = true;
        this.searchGraphs.get('joiner', build(false)).catch(() => undefined);
      }
      const out = await graph.run({
        pred: f32([N, J], pred),
        ...(known ? { enc_proj: f32([1, J], known) } : { enc: f32([1, encoder.nEmbd], frame) }),
      });
      if (!known)
        this.frameProjections.set(frame, {
          values: frame.slice(),
          projection: out['enc_proj']!.data as Float32Array,
        });
      const logits = out['logits']!.data as Float32Array;
      return Array.from({ length: N }, (_, i) => logits.subarray(i * vocab, (i + 1) * vocab));
    },
  };

  private async predict(
    states: readonly RwkvState[],
    tokens: readonly number[],
  ): Promise<{ states: RwkvState[]; outs: Float32Array[] }> {
    const { predictor } = this.config;
    if (states.length !== tokens.length || states.length === 0)
      throw new BadInputError(`prediction network: ${states.length} states for ${tokens.length} tokens`, {
        field: 'tokens',
      });
    const N = states.length;
    for (const st of states) st.assertFits(predictor, 1);
    // the hypotheses' states stacked into reused buffers (what RwkvState.stack would allocate)
    const buffers = this.predictorInputs.pop() ?? new Map<string, Float32Array>();
    const feeds: Record<string, TensorValue> = {
      tokens: { dtype: 'int32', dims: [N, 1], data: Int32Array.from(tokens) },
    };
    for (const s of stateSlots(predictor)) {
      const per = s.spec.shape.reduce((a, b) => a * b, 1);
      let buf = buffers.get(s.key);
      if (!buf || buf.length < N * per) {
        buf = new Float32Array(N * per);
        buffers.set(s.key, buf);
      }
      states.forEach((st, i) => {
        buf.set(st.get(s.layer, s.spec.name), i * per);
      });
      feeds[stateInputName(s.layer, s.spec.name)] = f32([N, ...s.spec.shape], buf.subarray(0, N * per));
    }
    const graph = await this.searchGraphs.get('predictor', () =>
      buildPredictorGraph(this.config, this.tensors),
    );
    let out: Record<string, TensorValue>;
    try {
      out = await graph.run(feeds);
    } finally {
      this.predictorInputs.push(buffers); // free for the next call once this one has run
    }
    const next = RwkvState.fromArrays(
      predictor,
      N,
      new Map(
        stateSlots(predictor).map((s) => [
          s.key,
          out[stateOutputName(s.layer, s.spec.name)]!.data as Float32Array,
        ]),
      ),
    );
    const J = this.config.joinerDim;
    const projected = out['pred_joiner']!.data as Float32Array;
    return {
      states: next.unstack(),
      outs: Array.from({ length: N }, (_, i) => projected.subarray(i * J, (i + 1) * J)),
    };
  }

  /** Frees the compiled graphs. */
  async dispose(): Promise<void> {
    await this.graphs.dispose();
    await this.searchGraphs.dispose();
  }
}
