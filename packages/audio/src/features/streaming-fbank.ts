/**
 * The filterbank computed incrementally: samples in any chunking, frames out as soon as
 * they are complete.
 *
 * @module
 */
import { checkFinite, FbankComputer, type SampleArray } from './fbank.js';
import type { FbankOptions, ResolvedFbankOptions } from './fbank-options.js';

/** One frame of features and where it lies in the stream. */
export interface FeatureFrame {
  /** Frame number from the start of the stream (0-based). */
  readonly index: number;
  /** Time of the frame's first sample, seconds from the start of the stream. */
  readonly start: number;
  /** The `numMelBins` log-mel values. */
  readonly features: Float32Array;
}

/**
 * Streaming Kaldi filterbank. `accept` takes samples in chunks of any size (empty too) and
 * returns the frames they complete; frame t covers samples [t * shift, t * shift + window).
 * Every frame is computed from exactly its own samples by the same code as
 * {@link computeFbank}, so any chunking gives the features of the whole, bit for bit.
 * Only the samples of the next unfinished frame are kept (at most one window), so memory
 * is flat however long the stream.
 *
 * @example
 * ```ts
 * const fb = new StreamingFbank();
 * for await (const chunk of audio16k) for (const frame of fb.accept(chunk)) model.push(frame.features);
 * ```
 */
export class StreamingFbank {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedFbankOptions;
  private readonly computer: FbankComputer;
  /** Samples from stream index `bufferStart` on, `bufferLength` of them. */
  private buffer: Float64Array;
  private bufferStart = 0;
  private bufferLength = 0;
  private nextFrame = 0;
  private received = 0;

  /** @throws {@link BadInputError} for an invalid option (named). */
  constructor(options: FbankOptions = {}) {
    this.computer = new FbankComputer(options);
    this.options = this.computer.options;
    this.buffer = new Float64Array(this.options.windowSize * 2);
  }

  /** Feature dimension (the number of mel bins). */
  get dim(): number {
    return this.computer.dim;
  }

  /** Samples accepted so far. */
  get samplesReceived(): number {
    return this.received;
  }

  /** Frames emitted so far. */
  get framesEmitted(): number {
    return this.nextFrame;
  }

  /**
   * Adds samples and returns the frames they complete (possibly none).
   *
   * @throws {@link BadInputError} for a non-finite sample (named by stream index); the
   *   chunk is then not taken, so the stream can go on with the next one.
   */
  accept(samples: SampleArray): FeatureFrame[] {
    checkFinite(samples, this.received);
    const { windowSize, windowShift, sampleRate } = this.options;
    this.append(samples);
    const frames: FeatureFrame[] = [];
    while (this.nextFrame * windowShift + windowSize <= this.received) {
      const start = this.nextFrame * windowShift;
      const features = new Float32Array(this.computer.dim);
      this.computer.computeFrame(this.buffer, start - this.bufferStart, features);
      frames.push({ index: this.nextFrame, start: start / sampleRate, features });
      this.nextFrame++;
    }
    this.discardBefore(this.nextFrame * windowShift);
    return frames;
  }

  /** Forgets everything: the next sample is the start of a new stream. */
  reset(): void {
    this.bufferStart = 0;
    this.bufferLength = 0;
    this.nextFrame = 0;
    this.received = 0;
  }

  private append(samples: SampleArray): void {
    const need = this.bufferLength + samples.length;
    if (need > this.buffer.length) {
      const grown = new Float64Array(Math.max(need, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    // Float32 -> float64 is exact, so the frame sees the very values it would see whole.
    for (let i = 0; i < samples.length; i++) this.buffer[this.bufferLength + i] = samples[i]!;
    this.bufferLength += samples.length;
    this.received += samples.length;
  }

  private discardBefore(streamIndex: number): void {
    const drop = Math.min(streamIndex - this.bufferStart, this.bufferLength);
    if (drop <= 0) return;
    this.buffer.copyWithin(0, drop, this.bufferLength);
    this.bufferLength -= drop;
    this.bufferStart += drop;
    // After one huge chunk, give the memory back: keep room for two windows.
    const keep = this.options.windowSize * 2;
    if (this.buffer.length > 4 * keep && this.bufferLength <= keep) {
      this.buffer = this.buffer.slice(0, keep);
    }
  }
}
