/**
 * Reads the RIFF/WAVE structure (chunks, `fmt `, where the samples are) and checks it, so
 * that every problem is a typed error naming the file, the field and the byte offset.
 * node-wav then decodes the samples from a normalized copy (see wav.ts).
 *
 * @module
 */
import {
  BadMagicError,
  MalformedFileError,
  TruncatedFileError,
  UnsupportedDTypeError,
} from '@rwkv-streams/core';

/** How the samples of a WAV file are stored. */
export interface WavFormat {
  /** The format tag as stored: 1 (PCM), 3 (IEEE float) or 0xFFFE (extensible, then `subFormat` tells). */
  readonly formatTag: number;
  /** Integer PCM or IEEE float. */
  readonly encoding: 'int' | 'float';
  /** Bits per sample: 8, 16, 24 or 32 for integers; 32 or 64 for floats. */
  readonly bitsPerSample: number;
  /** Interleaved channels. */
  readonly channels: number;
  /** Samples per second per channel. */
  readonly sampleRate: number;
  /** Bytes of one sample frame (all channels). */
  readonly blockAlign: number;
}

/** Where the samples are, once the structure has been checked. */
export interface WavLayout {
  readonly format: WavFormat;
  /** Byte offset of the first sample. */
  readonly dataOffset: number;
  /** Bytes of whole sample frames from `dataOffset`. */
  readonly dataBytes: number;
  /** Sample frames (samples per channel). */
  readonly frames: number;
  /** True when the file ended before the data chunk did and `truncated: 'keep'` kept what was there. */
  readonly truncated: boolean;
}

/** Options of {@link readWavLayout}. */
export interface WavLayoutOptions {
  /** Name of the source in error messages (a path, or `<buffer>`). */
  readonly file?: string;
  /**
   * A file that ends inside its data chunk (a recording cut short): `'error'` (default)
   * throws {@link TruncatedFileError}; `'keep'` keeps the whole sample frames that are there.
   */
  readonly truncated?: 'error' | 'keep';
}

/** Names of common format tags we do not decode, for the error message. */
const KNOWN_TAGS: Record<number, string> = {
  2: 'Microsoft ADPCM',
  6: 'A-law',
  7: 'mu-law',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  80: 'MPEG',
  85: 'MPEG layer 3',
};

const ascii = (b: Uint8Array, at: number): string =>
  String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/**
 * Checks a WAV file's structure and finds its samples. Chunks other than `fmt ` and
 * `data` are skipped (with RIFF's pad byte after odd sizes); reading stops at `data`. A data
 * size of 0xFFFFFFFF (written by streaming encoders that cannot seek back) means "to the end
 * of the file". The RIFF size field is not trusted (many writers get it wrong); the chunk
 * sizes are.
 *
 * @throws {@link TruncatedFileError} when the file ends inside the header, a chunk header,
 *   the `fmt ` chunk, or (unless `truncated: 'keep'`) the data.
 * @throws {@link BadMagicError} when it does not start with `RIFF....WAVE`.
 * @throws {@link UnsupportedDTypeError} for an encoding other than integer PCM (8/16/24/32-bit)
 *   or IEEE float (32/64-bit): A-law, mu-law, ADPCM, MP3 and others.
 * @throws {@link MalformedFileError} for a short or repeated `fmt ` chunk, inconsistent fields,
 *   `data` before `fmt `, or no `data` chunk.
 */
export function readWavLayout(bytes: Uint8Array, options: WavLayoutOptions = {}): WavLayout {
  const file = options.file ?? '<buffer>';
  const keepTruncated = options.truncated === 'keep';
  const len = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (len < 12) {
    throw new TruncatedFileError(`a WAV file needs a 12-byte RIFF header, this one has ${len} bytes`, {
      file,
      field: 'RIFF',
      offset: len,
    });
  }
  const riff = ascii(bytes, 0);
  if (riff !== 'RIFF') {
    const why =
      riff === 'RIFX'
        ? ' (big-endian RIFX is not supported)'
        : riff === 'RF64'
          ? ' (RF64 is not supported)'
          : '';
    throw new BadMagicError(`expected 'RIFF', found ${JSON.stringify(riff)}${why}`, {
      file,
      field: 'RIFF',
      offset: 0,
    });
  }
  const wave = ascii(bytes, 8);
  if (wave !== 'WAVE') {
    throw new BadMagicError(`expected 'WAVE', found ${JSON.stringify(wave)}`, {
      file,
      field: 'WAVE',
      offset: 8,
    });
  }
  let format: WavFormat | undefined;
  let pos = 12;
  while (pos < len) {
    if (pos + 8 > len) {
      throw new TruncatedFileError(`the file ends inside a chunk header (${len - pos} of 8 bytes)`, {
        file,
        field: 'chunk header',
        offset: pos,
      });
    }
    const id = ascii(bytes, pos);
    const size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (format !== undefined) {
        throw new MalformedFileError('a second fmt chunk', { file, field: 'fmt ', offset: pos });
      }
      if (size < 16) {
        throw new MalformedFileError(`the fmt chunk has ${size} bytes, at least 16 are needed`, {
          file,
          field: 'fmt ',
          offset: pos,
        });
      }
      if (body + size > len) {
        throw new TruncatedFileError(`the fmt chunk announces ${size} bytes, ${len - body} are left`, {
          file,
          field: 'fmt ',
          offset: pos,
        });
      }
      format = readFormat(view, body, size, file);
    } else if (id === 'data') {
      if (format === undefined) {
        throw new MalformedFileError('the data chunk comes before any fmt chunk', {
          file,
          field: 'fmt ',
          offset: pos,
        });
      }
      const available = len - body;
      let dataBytes = size === 0xffffffff ? available : size;
      let truncated = false;
      if (dataBytes > available) {
        if (!keepTruncated) {
          throw new TruncatedFileError(
            `the data chunk announces ${size} bytes, the file has ${available} after its header`,
            { file, field: 'data', offset: pos },
          );
        }
        dataBytes = available;
        truncated = true;
      }
      const partial = dataBytes % format.blockAlign;
      if (partial !== 0) {
        if (!keepTruncated) {
          throw new TruncatedFileError(
            `the data ends inside a sample frame (${partial} of ${format.blockAlign} bytes)`,
            { file, field: 'data', offset: body + dataBytes - partial },
          );
        }
        dataBytes -= partial;
        truncated = true;
      }
      return { format, dataOffset: body, dataBytes, frames: dataBytes / format.blockAlign, truncated };
    }
    pos = body + size + (size & 1);
  }
  if (format === undefined) {
    throw new MalformedFileError('no fmt chunk', { file, field: 'fmt ', offset: len });
  }
  throw new MalformedFileError('no data chunk', { file, field: 'data', offset: len });
}

function readFormat(view: DataView, at: number, size: number, file: string): WavFormat {
  const formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  let code = formatTag;
  if (formatTag === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the SubFormat GUID.
    if (size < 40) {
      throw new MalformedFileError(`an extensible fmt chunk needs 40 bytes, this one has ${size}`, {
        file,
        field: 'fmt.cbSize',
        offset: at + 16,
      });
    }
    code = view.getUint16(at + 24, true);
  }
  const fieldOffset = formatTag === 0xfffe ? at + 24 : at;
  if (code !== 1 && code !== 3) {
    const name = KNOWN_TAGS[code];
    throw new UnsupportedDTypeError(
      `WAV format 0x${code.toString(16).padStart(4, '0')}${name ? ` (${name})` : ''} is not supported: only integer PCM (1) and IEEE float (3)`,
      { file, field: formatTag === 0xfffe ? 'fmt.subFormat' : 'fmt.audioFormat', offset: fieldOffset },
    );
  }
  const encoding = code === 1 ? 'int' : 'float';
  const allowed = encoding === 'int' ? [8, 16, 24, 32] : [32, 64];
  if (!allowed.includes(bitsPerSample)) {
    throw new UnsupportedDTypeError(
      `${bitsPerSample}-bit ${encoding === 'int' ? 'integer PCM' : 'float'} is not supported (${allowed.join(', ')} are)`,
      { file, field: 'fmt.bitsPerSample', offset: at + 14 },
    );
  }
  if (channels < 1) {
    throw new MalformedFileError('the fmt chunk says 0 channels', {
      file,
      field: 'fmt.channels',
      offset: at + 2,
    });
  }
  if (sampleRate < 1) {
    throw new MalformedFileError('the fmt chunk says a sample rate of 0', {
      file,
      field: 'fmt.sampleRate',
      offset: at + 4,
    });
  }
  if (blockAlign !== (channels * bitsPerSample) / 8) {
    throw new MalformedFileError(
      `blockAlign is ${blockAlign}, expected ${channels} channels x ${bitsPerSample / 8} bytes = ${(channels * bitsPerSample) / 8}`,
      { file, field: 'fmt.blockAlign', offset: at + 12 },
    );
  }
  return { formatTag, encoding, bitsPerSample, channels, sampleRate, blockAlign };
}
