/**
 * WAV file -> mono samples at the model's rate, in one call.
 *
 * @module
 */
import type { ResamplerQuality } from './resampler.js';
import { resampleAll } from './resampler.js';
import { decodeWav, mixToMono, readWav } from './wav.js';
import type { WavFormat, WavLayoutOptions } from './wav-layout.js';

/** Options of {@link loadWav}. */
export interface LoadWavOptions {
  /** Output rate, Hz. Default 16000. */
  readonly sampleRate?: number;
  /** Resampler quality when the file's rate differs. Default `'medium'`. */
  readonly quality?: ResamplerQuality;
  /** See {@link WavLayoutOptions.truncated}. Default `'error'`. */
  readonly truncated?: 'error' | 'keep';
}

/** Mono samples ready for {@link StreamingFbank} or {@link computeFbank}. */
export interface LoadedAudio {
  /** Mono samples in [-1, 1) at `sampleRate`. */
  readonly samples: Float32Array;
  /** Their rate, Hz. */
  readonly sampleRate: number;
  /** How the file stored them. */
  readonly source: WavFormat;
  /** Seconds of audio. */
  readonly duration: number;
}

/**
 * Reads a WAV file (a path, or its bytes), mixes its channels down to mono (their mean) and
 * resamples to `sampleRate` (16 kHz by default) with libsamplerate.
 *
 * @throws the typed errors of {@link readWav} / {@link decodeWav}.
 */
export async function loadWav(
  source: string | Uint8Array | ArrayBuffer,
  options: LoadWavOptions = {},
): Promise<LoadedAudio> {
  const layoutOptions = options.truncated === undefined ? {} : { truncated: options.truncated };
  const wav =
    typeof source === 'string' ? await readWav(source, layoutOptions) : decodeWav(source, layoutOptions);
  const mono = mixToMono(wav.channels);
  const sampleRate = options.sampleRate ?? 16000;
  const samples =
    wav.sampleRate === sampleRate
      ? mono
      : await resampleAll(mono, {
          from: wav.sampleRate,
          to: sampleRate,
          ...(options.quality === undefined ? {} : { quality: options.quality }),
        });
  return { samples, sampleRate, source: wav.format, duration: samples.length / sampleRate };
}
