import { BadInputError, DisposedError } from '@rwkv-streams/core';
import { StreamingFbank } from '../features/streaming-fbank.js';
import type { EncoderState, SpeechModel } from '../model/speech-model.js';
import { FloatQueue } from '../recognizer/frame-queue.js';
import { DEFAULT_LEADING_SILENCE, encoderStateAfterSilence } from '../recognizer/leading-silence.js';
import type { FrameVad } from './frame-vad.js';

/** Options of the RWKV voice-activity detector. */
export interface RwkvVadOptions {
  /**
   * Encoder steps (40 ms each) gathered before the encoder runs (default 4): larger chunks
   * cost less per second of audio, smaller ones answer sooner. Probabilities do not depend
   * on it (the encoder carries its state).
   */
  readonly chunkSteps?: number;
  /**
   * Seconds of digital silence the encoder has heard when a stream starts (default
   * {@link DEFAULT_LEADING_SILENCE}: none, a zero state, as the recognizer's streams). On
   * clean audio whose speech starts at once, 0.5 s answers sooner (300 development-set
   * utterances without padding: frame accuracy over the first second 94.5% from zeros, 98.8%
   * after 0.5 s of silence; median onset 40 ms late against 0 ms), but in noise the head
   * then calls the noise speech (the same utterances padded with 0.5 s and pink noise at
   * 10 dB SNR: 97.8% from zeros, 86.2% after silence).
   */
  readonly leadingSilence?: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Voice activity from the speech model's own voice-activity head: the causal RWKV encoder
 * runs over the audio with its state carried, and each 40 ms step gets the head's speech
 * probability. A FrameVad, so `detectSpeech()` and the segmenter take it as they take the
 * WebRTC VAD. Trained on synthesized speech with noise, reverberation and silences
 * (training/audio/train_asr.py); its frame accuracy against WebRTC's is printed by
 * bench/src/speech-heldout.ts.
 */
export class RwkvVad implements FrameVad {
  readonly frameSeconds: number;
  private readonly fbank = new StreamingFbank();
  private readonly pending = new FloatQueue();
  private pendingFrames = 0;
  /** The encoder state carried between chunks; undefined until the first run (then the start state). */
  private state: EncoderState | undefined;
  private readonly leadingSilence: number;
  private readonly chunkSteps: number;
  private disposed = false;

  constructor(
    private readonly model: SpeechModel,
    options: RwkvVadOptions = {},
  ) {
    if (!model.hasVadHead)
      throw new BadInputError('this speech model has no voice-activity head (vad.weight, vad.bias)', {
        field: 'vad.weight',
      });
    this.chunkSteps = options.chunkSteps ?? 4;
    if (!Number.isInteger(this.chunkSteps) || this.chunkSteps < 1)
      throw new BadInputError(`chunkSteps must be an integer >= 1, got ${this.chunkSteps}`, {
        field: 'chunkSteps',
      });
    this.leadingSilence = options.leadingSilence ?? DEFAULT_LEADING_SILENCE;
    if (!(this.leadingSilence >= 0) || !Number.isFinite(this.leadingSilence))
      throw new BadInputError(
        `leadingSilence must be a number of seconds >= 0, got ${options.leadingSilence}`,
        { field: 'leadingSilence' },
      );
    this.frameSeconds = model.stepSeconds;
  }

  /** 16 kHz mono samples in [-1, 1) -> speech probabilities of the steps they complete. */
  async accept(samples: Float32Array): Promise<number[]> {
    if (this.disposed) throw new DisposedError('RwkvVad was disposed');
    for (const f of this.fbank.accept(samples)) {
      this.pending.push(f.features);
      this.pendingFrames++;
    }
    const S = this.model.config.stack;
    const steps = Math.floor(this.pendingFrames / S);
    if (steps < this.chunkSteps) return [];
    return this.run(steps);
  }

  /**
   * The probabilities of complete steps still buffered (fewer than `chunkSteps`): call at
   * the end of a stream.
   */
  async flush(): Promise<number[]> {
    const steps = Math.floor(this.pendingFrames / this.model.config.stack);
    return steps > 0 ? this.run(steps) : [];
  }

  private async run(steps: number): Promise<number[]> {
    const { stack: S, featureDim: F } = this.model.config;
    const groups = this.pending.take(steps * S * F);
    this.pendingFrames -= steps * S;
    // the start state is shared by every stream of the model: encode returns a new one
    const from = this.state ?? (await encoderStateAfterSilence(this.model, this.leadingSilence));
    const r = await this.model.encode(groups, steps, from);
    this.state = r.state;
    return Array.from(r.vadLogits!, sigmoid);
  }

  reset(): void {
    this.fbank.reset();
    this.pending.take(this.pending.length);
    this.pendingFrames = 0;
    this.state = undefined;
  }

  /** The model is the caller's: it is not disposed here. */
  dispose(): void {
    this.disposed = true;
  }
}
