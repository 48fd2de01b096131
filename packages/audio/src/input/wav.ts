/**
 * WAV input: structure checked by {@link readWavLayout}, samples decoded by node-wav.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { BadInputError, FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';
import nodeWav from 'node-wav';
import { readWavLayout, type WavFormat, type WavLayoutOptions } from './wav-layout.js';

/** A decoded WAV file. */
export interface WavAudio {
  /** Samples per second per channel, as stored. */
  readonly sampleRate: number;
  /** One array per channel, floats; integers map to `v / 2^(bits-1)` (see {@link decodeWav}). */
  readonly channels: Float32Array[];
  /** How the file stored them. */
  readonly format: WavFormat;
  /** True when a truncated file was read with `truncated: 'keep'`. */
  readonly truncated: boolean;
}

/**
 * Decodes a WAV file held in memory: integer PCM (8, 16, 24, 32-bit), IEEE float (32, 64-bit),
 * plain or WAVE_FORMAT_EXTENSIBLE, any channel count and sample rate.
 *
 * Integer samples come out as `v / 2^(bits-1)` (torchaudio's convention, so that
 * `sample * 32768` gives back the int16 value Kaldi works on). node-wav divides positive
 * values by `2^(bits-1) - 1` instead; we undo that: exactly for 8 and 16 bits (the integer is
 * recovered), within one float32 rounding for 24 and 32 bits. (node-wav also reads the 24-bit
 * value -2^23 as +1; it comes out as -1 here.)
 *
 * node-wav is given a normalized copy (a canonical header, the data aligned to 8 bytes),
 * because it reads typed-array views at the data offset, which throws on odd offsets, and
 * does not skip RIFF pad bytes.
 *
 * @throws the typed errors of {@link readWavLayout}; {@link MalformedFileError} if node-wav
 *   still refuses the data.
 */
export function decodeWav(bytes: Uint8Array | ArrayBuffer, options: WavLayoutOptions = {}): WavAudio {
  const input = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const layout = readWavLayout(input, options);
  const { format } = layout;
  const headerBytes = 56; // RIFF(12) + fmt (8+16) + 'pad '(8+4) + data(8): data at 56, 8-aligned.
  const copy = new ArrayBuffer(headerBytes + layout.dataBytes);
  const out = new Uint8Array(copy);
  const v = new DataView(copy);
  const tag = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  v.setUint32(4, copy.byteLength - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, format.encoding === 'int' ? 1 : 3, true);
  v.setUint16(22, format.channels, true);
  v.setUint32(24, format.sampleRate, true);
  v.setUint32(28, format.sampleRate * format.blockAlign, true);
  v.setUint16(32, format.blockAlign, true);
  v.setUint16(34, format.bitsPerSample, true);
  tag(36, 'pad ');
  v.setUint32(40, 4, true);
  tag(48, 'data');
  v.setUint32(52, layout.dataBytes, true);
  out.set(input.subarray(layout.dataOffset, layout.dataOffset + layout.dataBytes), headerBytes);
  let decoded: ReturnType<typeof nodeWav.decode>;
  try {
    decoded = nodeWav.decode(copy);
  } catch (error) {
    throw new MalformedFileError(`node-wav could not decode the samples: ${(error as Error).message}`, {
      file: options.file ?? '<buffer>',
      field: 'data',
      offset: layout.dataOffset,
    });
  }
  if (decoded === undefined || decoded.channelData.length !== format.channels) {
    throw new MalformedFileError('node-wav returned no samples', {
      file: options.file ?? '<buffer>',
      field: 'data',
      offset: layout.dataOffset,
    });
  }
  if (format.encoding === 'int') {
    for (const channel of decoded.channelData) toSymmetricScale(channel, format.bitsPerSample);
  }
  return {
    sampleRate: format.sampleRate,
    channels: decoded.channelData,
    format,
    truncated: layout.truncated,
  };
}

/** Rescales node-wav's positive integer samples from `v / (2^(b-1) - 1)` to `v / 2^(b-1)`, in place. */
function toSymmetricScale(channel: Float32Array, bits: number): void {
  const full = 2 ** (bits - 1);
  const max = full - 1;
  if (bits <= 16) {
    for (let i = 0; i < channel.length; i++) {
      const x = channel[i]!;
      if (x > 0) channel[i] = Math.round(x * max) / full;
    }
    return;
  }
  const factor = max / full;
  for (let i = 0; i < channel.length; i++) {
    const x = channel[i]!;
    if (x > 1)
      channel[i] = -1; // node-wav's reading of the 24-bit minimum
    else if (x > 0) channel[i] = x * factor;
  }
}

/**
 * Reads and decodes a WAV file from disk; errors name the path.
 *
 * @throws {@link FileNotFoundError} when it cannot be read; otherwise as {@link decodeWav}.
 */
export async function readWav(path: string, options: Omit<WavLayoutOptions, 'file'> = {}): Promise<WavAudio> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new FileNotFoundError(`cannot read: ${(error as Error).message}`, { file: path });
  }
  return decodeWav(bytes, { ...options, file: path });
}

/**
 * The average of the channels (a plain mean: no channel is favoured). One channel is
 * returned as is.
 *
 * @throws {@link BadInputError} when there are no channels or their lengths differ.
 */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) throw new BadInputError('mixToMono: no channels', { field: 'channels' });
  const n = channels[0]!.length;
  for (let c = 1; c < channels.length; c++) {
    if (channels[c]!.length !== n) {
      throw new BadInputError(
        `mixToMono: channel ${c} has ${channels[c]!.length} samples, channel 0 has ${n}`,
        {
          field: `channels[${c}]`,
        },
      );
    }
  }
  if (channels.length === 1) return channels[0]!;
  const out = new Float32Array(n);
  const scale = 1 / channels.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < channels.length; c++) s += channels[c]![i]!;
    out[i] = s * scale;
  }
  return out;
}
