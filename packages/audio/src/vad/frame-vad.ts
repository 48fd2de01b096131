/**
 * A frame-level voice-activity detector: 16 kHz mono samples in, in any chunking; one
 * speech probability (0..1) out per completed frame. The WebRTC VAD gives 0 or 1; a
 * trained RWKV VAD head gives probabilities. `detectSpeech()` and the speech segmenter
 * take any of them.
 */
export interface FrameVad {
  /** Seconds per frame. */
  readonly frameSeconds: number;
  /** Adds samples; returns the probabilities of the frames they complete (possibly none). */
  accept(samples: Float32Array): number[] | Promise<number[]>;
  /** Forgets buffered samples and adaptation (a new stream). */
  reset(): void;
  /** Frees native or WebAssembly resources. */
  dispose(): void;
}
