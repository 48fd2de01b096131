import { BadInputError } from '@rwkv-streams/core';

/** A stretch of speech: times in seconds since the stream began, and its samples. */
export interface SpeechSegment {
  readonly start: number;
  readonly end: number;
  /** 16 kHz samples of [start, end). */
  readonly samples: Float32Array;
}

/** How frame decisions become segments (sherpa-onnx's VAD names and defaults where they exist). */
export interface SegmenterOptions {
  /** Probability at or above which a frame is speech. Default 0.5. */
  readonly threshold?: number;
  /** Shorter speech runs are ignored. Default 0.25 s. */
  readonly minSpeechSeconds?: number;
  /** Silence this long ends a segment. Default 0.5 s. */
  readonly minSilenceSeconds?: number;
  /** Audio kept before and after the speech. Default 0.1 s. */
  readonly paddingSeconds?: number;
  /** Segments are cut at this length. Default 30 s. */
  readonly maxSpeechSeconds?: number;
}

const RATE = 16000;

/**
 * Turns per-frame speech probabilities and the matching audio into speech segments, as the
 * audio arrives: a segment opens after `minSpeechSeconds` of speech frames, closes after
 * `minSilenceSeconds` of silence (or at `maxSpeechSeconds`), and carries `paddingSeconds`
 * of audio around the speech. Only the open segment's samples and the padding are held.
 */
export class SpeechSegmenter {
  private readonly o: Required<SegmenterOptions>;
  private samples: Float32Array[] = [];
  private sampleStart = 0; // stream index of samples[0][0]
  private held = 0;
  private received = 0;
  private frame = 0;
  private speechRun = 0;
  private silenceRun = 0;
  private open: { start: number } | null = null;

  constructor(
    private readonly frameSeconds: number,
    options: SegmenterOptions = {},
  ) {
    this.o = {
      threshold: options.threshold ?? 0.5,
      minSpeechSeconds: options.minSpeechSeconds ?? 0.25,
      minSilenceSeconds: options.minSilenceSeconds ?? 0.5,
      paddingSeconds: options.paddingSeconds ?? 0.1,
      maxSpeechSeconds: options.maxSpeechSeconds ?? 30,
    };
    for (const [k, v] of Object.entries(this.o))
      if (!(v >= 0)) throw new BadInputError(`${k} must be a number >= 0, got ${v}`, { field: k });
  }

  /** Adds audio and the probabilities of the frames it completed; returns closed segments. */
  push(samples: Float32Array, probabilities: readonly number[]): SpeechSegment[] {
    this.samples.push(samples);
    this.held += samples.length;
    this.received += samples.length;
    const out: SpeechSegment[] = [];
    const f = this.frameSeconds;
    for (const p of probabilities) {
      const t = this.frame * f;
      this.frame++;
      if (p >= this.o.threshold) {
        this.speechRun++;
        this.silenceRun = 0;
        if (!this.open && this.speechRun * f >= this.o.minSpeechSeconds)
          this.open = { start: Math.max(0, t + f - this.speechRun * f - this.o.paddingSeconds) };
      } else {
        this.silenceRun++;
        this.speechRun = 0;
        if (this.open && this.silenceRun * f >= this.o.minSilenceSeconds) {
          const end = t + f - this.silenceRun * f + this.o.paddingSeconds;
          out.push(this.cut(this.open.start, end));
          this.open = null;
        }
      }
      if (this.open && this.frame * f - this.open.start >= this.o.maxSpeechSeconds) {
        const end = this.open.start + this.o.maxSpeechSeconds;
        out.push(this.cut(this.open.start, end));
        this.open = { start: end };
      }
    }
    this.trim();
    return out;
  }

  /** The end of the audio: closes an open segment. */
  flush(): SpeechSegment[] {
    if (!this.open) return [];
    const seg = this.cut(this.open.start, this.received / RATE);
    this.open = null;
    return [seg];
  }

  private cut(start: number, end: number): SpeechSegment {
    const from = Math.max(Math.round(start * RATE), this.sampleStart);
    const to = Math.min(Math.round(end * RATE), this.received);
    const all = new Float32Array(this.held);
    let at = 0;
    for (const s of this.samples) {
      all.set(s, at);
      at += s.length;
    }
    return {
      start: from / RATE,
      end: to / RATE,
      samples: all.slice(from - this.sampleStart, Math.max(from, to) - this.sampleStart),
    };
  }

  /** Drops audio no segment can still need (before the open segment or the padding window). */
  private trim(): void {
    const keepFrom = this.open
      ? Math.round(this.open.start * RATE)
      : this.received -
        Math.round((this.o.paddingSeconds + this.o.minSpeechSeconds + 2 * this.frameSeconds) * RATE);
    while (this.samples.length > 1 && this.sampleStart + this.samples[0]!.length <= keepFrom) {
      const s = this.samples.shift()!;
      this.sampleStart += s.length;
      this.held -= s.length;
    }
  }
}
