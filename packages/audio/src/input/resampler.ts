/**
 * Sample-rate conversion with libsamplerate (Erik de Castro Lopo's band-limited sinc
 * converter) compiled to WebAssembly, by @alexanderolsen/libsamplerate-js.
 *
 * @module
 */

import libsamplerate from '@alexanderolsen/libsamplerate-js';
import { BadInputError, DisposedError } from '@rwkv-streams/core';
import { checkFinite } from '../features/fbank.js';

/** libsamplerate's sinc converters, best to fastest (all anti-aliased). */
export type ResamplerQuality = 'best' | 'medium' | 'fastest';

const CONVERTER: Record<ResamplerQuality, 0 | 1 | 2> = { best: 0, medium: 1, fastest: 2 };

/** Options of {@link Resampler.create} and {@link resampleAll}. */
export interface ResamplerOptions {
  /** Input rate, Hz (an integer 1 .. 192000). */
  readonly from: number;
  /** Output rate, Hz (an integer 1 .. 192000). Default 16000. */
  readonly to?: number;
  /** Converter. Default `'medium'` (see the package README for the measurements behind it). */
  readonly quality?: ResamplerQuality;
}

interface SrcLike {
  full(dataIn: Float32Array): Float32Array;
  destroy(): void;
}

const FLUSH_BLOCK = 4096;

/**
 * A streaming resampler: `push` chunks of any size, `flush` at the end. Output is aligned
 * with the input (sample 0 out is at time 0 in; libsamplerate adds no delay) and, after
 * `flush`, has `ceil(inputSamples * to / from)` samples in all, whatever the chunking.
 * libsamplerate holds back about half its filter length while streaming; `flush` feeds
 * silence to push it out.
 *
 * Each instance owns one WebAssembly instance of libsamplerate (25 MB reserved, ~1.5 MB resident):
 * `dispose()` it when done. With `from === to` it copies.
 */
export class Resampler {
  /** Input rate, Hz. */
  readonly from: number;
  /** Output rate, Hz. */
  readonly to: number;
  /** The converter in use. */
  readonly quality: ResamplerQuality;
  private src: SrcLike | undefined;
  private inputCount = 0;
  private outputCount = 0;
  private flushed = false;
  private disposed = false;

  private constructor(from: number, to: number, quality: ResamplerQuality, src: SrcLike | undefined) {
    this.from = from;
    this.to = to;
    this.quality = quality;
    this.src = src;
  }

  /**
   * Makes a resampler (libsamplerate's loader is asynchronous).
   *
   * @throws {@link BadInputError} for a rate that is not an integer in 1 .. 192000 or an unknown quality.
   */
  static async create(options: ResamplerOptions): Promise<Resampler> {
    const { from, to, quality } = resolveResamplerOptions(options);
    const src =
      from === to
        ? undefined
        : await libsamplerate.create(1, from, to, { converterType: CONVERTER[quality] });
    return new Resampler(from, to, quality, src);
  }

  /** Input samples taken so far. */
  get samplesIn(): number {
    return this.inputCount;
  }

  /** Output samples given so far. */
  get samplesOut(): number {
    return this.outputCount;
  }

  /**
   * Resamples a chunk; returns what the converter can give so far (it lags by about half a
   * filter length until {@link flush}).
   *
   * @throws {@link BadInputError} for a non-finite sample (the chunk is then not taken) or a
   *   push after `flush`; {@link DisposedError} after `dispose`.
   */
  push(samples: Float32Array): Float32Array {
    this.checkOpen('push');
    if (!(samples instanceof Float32Array)) {
      throw new BadInputError('Resampler.push takes a Float32Array', { field: 'samples' });
    }
    checkFinite(samples, this.inputCount);
    this.inputCount += samples.length;
    const out =
      this.src === undefined
        ? samples.slice()
        : samples.length === 0
          ? new Float32Array(0)
          : this.src.full(samples);
    this.outputCount += out.length;
    return out;
  }

  /**
   * Ends the input and returns the rest of the output. The resampler is finished after it.
   *
   * @throws {@link BadInputError} when called twice; {@link DisposedError} after `dispose`.
   */
  flush(): Float32Array {
    this.checkOpen('flush');
    this.flushed = true;
    const total = Math.ceil((this.inputCount * this.to) / this.from);
    const missing = total - this.outputCount;
    if (missing <= 0 || this.src === undefined) return new Float32Array(0);
    const parts: Float32Array[] = [];
    let got = 0;
    const zeros = new Float32Array(FLUSH_BLOCK);
    // Bounded: each block of silence moves the output on by FLUSH_BLOCK * to / from samples.
    for (let guard = 0; got < missing && guard < 1000; guard++) {
      const part = this.src.full(zeros);
      parts.push(part);
      got += part.length;
    }
    const out = new Float32Array(missing);
    let at = 0;
    for (const part of parts) {
      const take = Math.min(part.length, missing - at);
      out.set(part.subarray(0, take), at);
      at += take;
      if (at === missing) break;
    }
    this.outputCount += missing;
    return out;
  }

  /** Frees the WebAssembly instance. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.src?.destroy();
    this.src = undefined;
  }

  private checkOpen(what: string): void {
    if (this.disposed) throw new DisposedError('Resampler');
    if (this.flushed) {
      throw new BadInputError(`Resampler.${what} after flush(): make a new resampler for a new stream`, {
        field: what,
      });
    }
  }
}

/** Checks resampler options and fills defaults. @throws {@link BadInputError} naming the option. */
export function resolveResamplerOptions(options: ResamplerOptions): Required<ResamplerOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new BadInputError('resampler: options must be an object', { field: 'options' });
  }
  const to = options.to ?? 16000;
  const quality = options.quality ?? 'medium';
  for (const [field, rate] of [
    ['from', options.from],
    ['to', to],
  ] as const) {
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1 || rate > 192000) {
      throw new BadInputError(
        `resampler: ${field} must be an integer rate in 1 .. 192000 Hz, got ${String(rate)}`,
        {
          field,
        },
      );
    }
  }
  if (!(quality in CONVERTER)) {
    throw new BadInputError(
      `resampler: quality must be 'best', 'medium' or 'fastest', got ${String(quality)}`,
      {
        field: 'quality',
      },
    );
  }
  return { from: options.from, to, quality };
}

/**
 * Resamples a whole signal: one {@link Resampler}, one push, flush, dispose. A streaming
 * resampler fed the same samples in any chunking gives the same output within the bound
 * stated in the README.
 */
export async function resampleAll(samples: Float32Array, options: ResamplerOptions): Promise<Float32Array> {
  const r = await Resampler.create(options);
  try {
    const head = r.push(samples);
    const tail = r.flush();
    const out = new Float32Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  } finally {
    r.dispose();
  }
}
