import { BadInputError, DisposedError } from '@rwkv-streams/core';
import { StreamingFbank } from '../features/streaming-fbank.js';
import type { EncoderState, SpeechModel } from '../model/speech-model.js';
import { FloatQueue } from '../recognizer/frame-queue.js';
import type { FrameVad } from './frame-vad.js';

/** Options of the RWKV voice-activity detector. */
export interface RwkvVadOptions {
  /**
   * Encoder steps (40 ms each) gathered before the encoder runs (default 4): larger chunks
   * cost less per second of audio, smaller ones answer sooner. Probabilities do not depend
   * on it (the encoder carries its state).
   */
  readonly chunkSteps?: number;
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
  private state: EncoderState;
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
    this.frameSeconds = model.stepSeconds;
    this.state = model.createEncoderState(1);
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
    const r = await this.model.encode(groups, steps, this.state);
    this.state = r.state;
    return Array.from(r.vadLogits!, sigmoid);
  }

  reset(): void {
    this.fbank.reset();
    this.pending.take(this.pending.length);
    this.pendingFrames = 0;
    this.state = this.model.createEncoderState(1);
  }

  /** The model is the caller's: it is not disposed here. */
  dispose(): void {
    this.disposed = true;
  }
}
