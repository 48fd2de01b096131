import { BadInputError } from '@rwkv-streams/core';
import type { ContextGraph } from '../decode/context-graph.js';
import { CtcGreedyDecoder } from '../decode/ctc-greedy.js';
import { CtcPrefixBeamSearch } from '../decode/ctc-prefix-beam.js';
import { DEFAULT_ENDPOINT_CONFIG, type EndpointConfig, isEndpoint } from '../decode/endpoint.js';
import type { DecodedToken } from '../decode/tokens.js';
import { TransducerModifiedBeamSearch } from '../decode/transducer-beam.js';
import { TransducerGreedySearch } from '../decode/transducer-greedy.js';
import type { CharVocabulary } from '../decode/vocabulary.js';
import { type TimedWord, timedWords } from '../decode/words.js';
import { StreamingFbank } from '../features/streaming-fbank.js';
import { Resampler } from '../input/resampler.js';
import type { EncoderState, SpeechModel } from '../model/speech-model.js';
import { FloatQueue } from './frame-queue.js';
import { DEFAULT_LEADING_SILENCE, encoderStateAfterSilence } from './leading-silence.js';
import type { RecognizerOptions } from './recognizer-options.js';

/** A recognition result: the current utterance so far (partial) or at its endpoint (final). */
export interface RecognitionResult {
  readonly text: string;
  readonly words: readonly TimedWord[];
  /** Symbols with the encoder step at which each was emitted. */
  readonly tokens: readonly DecodedToken[];
  /** Seconds since the stream began at which the utterance started, and up to which audio was decoded. */
  readonly start: number;
  readonly end: number;
}

type Decoder =
  | { kind: 'ctc'; d: CtcGreedyDecoder | CtcPrefixBeamSearch }
  | { kind: 'transducer'; d: TransducerGreedySearch<unknown> | TransducerModifiedBeamSearch<unknown> };

/**
 * One audio stream of a recognizer (sherpa-onnx's OnlineStream): filterbank frames in, in
 * any chunking; `decode` (or the recognizer's batched `decodeStreams`) runs the encoder on
 * every complete 40 ms step and the decoder on its outputs; the result grows as audio
 * arrives; at an endpoint the caller reads the final result and calls `reset`.
 */
export class RecognizerStream {
  private readonly pending = new FloatQueue();
  private pendingFrames = 0;
  private finished = false;
  /** The decoder frame where the current utterance began (encoder steps, or CTC frames for CTC). */
  private utteranceStartFrame = 0;
  private readonly decoder: Decoder;
  private readonly endpointRules: EndpointConfig | null;
  private readonly chunkSteps: number;
  /** Trailing silence from the voice-activity head (true) or from steps without a symbol. */
  private readonly silenceFromVad: boolean;
  /** Encoder steps since the voice-activity head last said speech. */
  private vadTrailing = 0;
  /** The encoder's carried state (advanced by decode). */
  encoderState: EncoderState;
  /** The state to start from (after the leading silence), until the first decode takes it. */
  private startState: Promise<EncoderState> | undefined;
  private readonly fbank: StreamingFbank;
  private resampler: Resampler | undefined;

  /** @internal made by SpeechRecognizer.createStream */
  constructor(
    private readonly model: SpeechModel,
    private readonly vocab: CharVocabulary,
    options: RecognizerOptions,
    hotwords: ContextGraph | undefined,
  ) {
    this.encoderState = model.createEncoderState(1);
    const lead = options.leadingSilence ?? DEFAULT_LEADING_SILENCE;
    if (lead !== 0) this.startState = encoderStateAfterSilence(model, lead);
    this.fbank = new StreamingFbank({ numMelBins: model.config.featureDim });
    // each search keeps its own default width unless one is given: the transducer's 4, CTC's 8
    // (CTC prefix beam search at 4 reads 5 points worse on the dev voice clb, and at 8 it
    // still costs less than the transducer's beam 4)
    const beam = options.beam !== undefined ? { beam: options.beam } : {};
    const V = model.config.vocab;
    const method = options.decodingMethod ?? 'transducer-greedy';
    const hw = hotwords ? { hotwords } : {};
    if (method === 'ctc-greedy') this.decoder = { kind: 'ctc', d: new CtcGreedyDecoder(V) };
    else if (method === 'ctc-beam')
      this.decoder = {
        kind: 'ctc',
        d: new CtcPrefixBeamSearch(V, {
          ...beam,
          ...hw,
          ...(options.lexicon ? { lexicon: options.lexicon } : {}),
        }),
      };
    else if (method === 'transducer-greedy')
      this.decoder = {
        kind: 'transducer',
        d: new TransducerGreedySearch(model.prediction, model.joiner, options.maxSymbolsPerFrame ?? 3),
      };
    else if (method === 'transducer-beam')
      this.decoder = {
        kind: 'transducer',
        d: new TransducerModifiedBeamSearch(model.prediction, model.joiner, {
          ...beam,
          ...hw,
          ...(options.lexicon ? { lexicon: options.lexicon } : {}),
          maxSymbolsPerFrame: options.maxSymbolsPerFrame ?? 3,
        }),
      };
    else throw new BadInputError(`unknown decoding method '${String(method)}'`, { field: 'decodingMethod' });
    this.endpointRules = options.endpoint === true ? DEFAULT_ENDPOINT_CONFIG : options.endpoint || null;
    const silence = options.endpointSilence ?? 'auto';
    if (!['auto', 'vad', 'blanks'].includes(silence))
      throw new BadInputError(`endpointSilence must be 'auto', 'vad' or 'blanks', got '${String(silence)}'`, {
        field: 'endpointSilence',
      });
    if (silence === 'vad' && !model.hasVadHead)
      throw new BadInputError("endpointSilence 'vad' needs a model with a voice-activity head (vad.weight)", {
        field: 'endpointSilence',
      });
    this.silenceFromVad = silence === 'vad' || (silence === 'auto' && model.hasVadHead);
    this.chunkSteps = options.chunkSteps ?? 4;
    if (!Number.isInteger(this.chunkSteps) || this.chunkSteps < 1)
      throw new BadInputError(`chunkSteps must be an integer >= 1, got ${this.chunkSteps}`, {
        field: 'chunkSteps',
      });
  }

  /** Appends filterbank frames (`frames` x F values, row-major). */
  acceptFeatures(frames: Float32Array): void {
    const F = this.model.config.featureDim;
    if (this.finished)
      throw new BadInputError('the stream was marked finished; reset it or make a new one', {});
    if (frames.length % F !== 0)
      throw new BadInputError(
        `features hold ${frames.length} values, not a whole number of ${F}-bin frames`,
        {
          field: 'frames',
        },
      );
    this.pending.push(frames);
    this.pendingFrames += frames.length / F;
  }

  /**
   * Appends audio: mono samples in [-1, 1) at `sampleRate` (resampled to 16 kHz with an
   * anti-aliased converter when it differs; the rate must stay the same for a stream).
   * The filterbank is computed incrementally, so any chunking gives the same features.
   */
  async acceptWaveform(sampleRate: number, samples: Float32Array): Promise<void> {
    if (this.finished)
      throw new BadInputError('the stream was marked finished; reset it or make a new one', {});
    let pcm = samples;
    if (sampleRate !== this.fbank.options.sampleRate) {
      if (this.resampler && this.resampler.from !== sampleRate)
        throw new BadInputError(
          `the stream's audio changed rate from ${this.resampler.from} Hz to ${sampleRate} Hz`,
          { field: 'sampleRate' },
        );
      this.resampler ??= await Resampler.create({ from: sampleRate, to: this.fbank.options.sampleRate });
      pcm = this.resampler.push(samples);
    }
    this.pushFrames(pcm);
  }

  private pushFrames(pcm: Float32Array): void {
    const frames = this.fbank.accept(pcm);
    if (frames.length === 0) return;
    const F = this.model.config.featureDim;
    const block = new Float32Array(frames.length * F);
    frames.forEach((f, i) => {
      block.set(f.features, i * F);
    });
    this.acceptFeatures(block);
  }

  /**
   * No more audio: the resampler's tail is flushed, and a last incomplete encoder step is
   * completed by repeating the last frame so the tail is decoded too.
   */
  inputFinished(): void {
    if (this.resampler && !this.finished) {
      this.pushFrames(this.resampler.flush());
      this.resampler.dispose();
      this.resampler = undefined;
    }
    const { stack: S, featureDim: F } = this.model.config;
    const rest = this.pendingFrames % S;
    if (rest > 0 && this.pendingFrames > 0) {
      const last = this.pending.last(F);
      for (let i = rest; i < S; i++) this.pending.push(last);
      this.pendingFrames += S - rest;
    }
    this.finished = true;
  }

  /** Complete encoder steps waiting to be decoded. */
  get readySteps(): number {
    return Math.floor(this.pendingFrames / this.model.config.stack);
  }

  /** Whether a chunk of `chunkSteps` steps (or, after `inputFinished`, any step) waits. */
  isReady(): boolean {
    const n = this.readySteps;
    return n >= this.chunkSteps || (this.finished && n > 0);
  }

  /** Takes `steps` complete steps of frames off the queue (for the batched encoder). */
  takeSteps(steps: number): Float32Array {
    const { stack: S, featureDim: F } = this.model.config;
    const out = this.pending.take(steps * S * F);
    this.pendingFrames -= steps * S;
    return out;
  }

  /** Feeds encoder outputs of `steps` steps (rows of this stream) to the decoder. */
  async consume(
    encoderOut: Float32Array,
    ctcLogits: Float32Array,
    steps: number,
    vadLogits?: Float32Array,
  ): Promise<void> {
    // logit > 0: the head's speech probability is above one half
    if (vadLogits)
      for (let t = 0; t < steps; t++) this.vadTrailing = vadLogits[t]! > 0 ? 0 : this.vadTrailing + 1;
    if (this.decoder.kind === 'ctc')
      this.decoder.d.accept({
        data: ctcLogits,
        frames: steps * this.model.ctcFrames,
        vocab: this.model.config.vocab,
      });
    else await this.decoder.d.accept(encoderOut, steps, this.model.config.encoder.nEmbd);
  }

  /**
   * Takes the start state (the encoder state after the leading silence, computed once per
   * model) before the first encoder call; nothing after that.
   */
  async prime(): Promise<void> {
    if (!this.startState) return;
    const start = await this.startState;
    this.startState = undefined;
    this.encoderState = { stem: start.stem.slice(), rwkv: start.rwkv };
  }

  /** Runs the encoder and decoder on every complete step (one stream; see decodeStreams for many). */
  async decode(): Promise<void> {
    if (!this.isReady()) return;
    await this.prime();
    const steps = this.readySteps;
    const r = await this.model.encode(this.takeSteps(steps), steps, this.encoderState);
    this.encoderState = r.state;
    await this.consume(r.encoderOut, r.ctcLogits, steps, r.vadLogits);
  }

  /**
   * The current utterance's result: final at an endpoint or once the input is finished
   * (the beam searches then score the last word as ended), else partial.
   */
  result(): RecognitionResult {
    const f = this.frameSeconds;
    const complete = this.finished || this.isEndpoint();
    const tokens = this.decoder.d.result(complete);
    return {
      text: this.vocab.decode(tokens.map((t) => t.id)).trim(),
      words: timedWords(tokens, this.vocab, f),
      tokens,
      start: this.utteranceStartFrame * f,
      end: this.decoder.d.frames * f,
    };
  }

  /** Whether an endpoint rule holds for the current utterance (false when endpointing is off). */
  isEndpoint(): boolean {
    if (!this.endpointRules) return false;
    const f = this.frameSeconds;
    const utterance = (this.decoder.d.frames - this.utteranceStartFrame) * f;
    const trailing = this.silenceFromVad
      ? Math.min(this.vadTrailing * this.model.stepSeconds, utterance)
      : this.decoder.d.trailingBlanks * f;
    return isEndpoint(this.endpointRules, utterance, trailing);
  }

  /** Starts the next utterance (after reading a final result); the audio position carries on. */
  reset(): void {
    this.decoder.d.reset();
    this.utteranceStartFrame = this.decoder.d.frames;
  }

  /** Seconds of audio per decoder frame: an encoder step, or a CTC frame for the CTC decoders. */
  private get frameSeconds(): number {
    return this.decoder.kind === 'ctc' ? this.model.ctcFrameSeconds : this.model.stepSeconds;
  }

  /** Whether `inputFinished` was called. */
  get isFinished(): boolean {
    return this.finished;
  }
}
