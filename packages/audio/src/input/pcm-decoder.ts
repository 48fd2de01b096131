/**
 * Raw PCM bytes from any source (a live stream, stdin, a socket, a file read in pieces) to
 * float samples, incrementally.
 *
 * @module
 */
import { BadInputError, TruncatedFileError } from '@rwkv-streams/core';

/** Raw sample encodings: signed 16-bit or 32-bit float, little-endian, interleaved channels. */
export type PcmEncoding = 's16le' | 'f32le';

/** Options of {@link PcmDecoder}. */
export interface PcmDecoderOptions {
  /** How the bytes encode samples. */
  readonly encoding: PcmEncoding;
  /** Interleaved channels, mixed down to mono by their mean. Default 1. */
  readonly channels?: number;
  /** Name of the source in error messages. Default `<pcm stream>`. */
  readonly source?: string;
}

/** A chunk of bytes: a Buffer, any Uint8Array, or an ArrayBuffer. */
export type ByteChunk = Uint8Array | ArrayBuffer;

/**
 * Streaming PCM decoder. Chunks may have any size and may split a sample (or a frame of
 * channels) anywhere: the bytes of an incomplete frame wait for the next chunk. Output is
 * mono Float32Array samples; s16le maps `v` to `v / 32768` (so `x * 32768` gives `v` back
 * exactly), f32le is taken as is and must be finite.
 *
 * A chunk that is refused (not bytes, or holding a NaN or infinite float) throws before
 * anything changes: the decoder is as it was, so a caller may skip that chunk and go on.
 */
export class PcmDecoder {
  /** The encoding in force. */
  readonly encoding: PcmEncoding;
  /** Interleaved channels. */
  readonly channels: number;
  private readonly source: string;
  private readonly bytesPerSample: number;
  private readonly frameBytes: number;
  private pending = new Uint8Array(0);
  private consumed = 0;
  private chunks = 0;

  /** @throws {@link BadInputError} for an unknown encoding or a channel count that is not an integer >= 1. */
  constructor(options: PcmDecoderOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new BadInputError('PcmDecoder: options must be an object', { field: 'options' });
    }
    if (options.encoding !== 's16le' && options.encoding !== 'f32le') {
      throw new BadInputError(
        `PcmDecoder: encoding must be 's16le' or 'f32le', got ${String(options.encoding)}`,
        {
          field: 'encoding',
        },
      );
    }
    const channels = options.channels ?? 1;
    if (!Number.isInteger(channels) || channels < 1) {
      throw new BadInputError(`PcmDecoder: channels must be an integer >= 1, got ${String(channels)}`, {
        field: 'channels',
      });
    }
    this.encoding = options.encoding;
    this.channels = channels;
    this.source = options.source ?? '<pcm stream>';
    this.bytesPerSample = options.encoding === 's16le' ? 2 : 4;
    this.frameBytes = this.bytesPerSample * channels;
  }

  /** Bytes taken so far (those waiting for the rest of their frame included). */
  get bytesReceived(): number {
    return this.consumed + this.pending.length;
  }

  /** Bytes of an incomplete frame waiting for the next chunk. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /**
   * Decodes a chunk: returns the mono samples of every frame it completes (possibly none).
   *
   * @throws {@link BadInputError} when `chunk` is not a Uint8Array/Buffer/ArrayBuffer (field
   *   `chunk`, naming its index and type), or an f32le sample is not finite (naming its byte offset
   *   in the stream). The decoder is then unchanged.
   */
  push(chunk: unknown): Float32Array {
    const index = this.chunks;
    const bytes = asBytes(chunk);
    if (bytes === undefined) {
      throw new BadInputError(
        `chunk ${index} is ${describe(chunk)}; PCM chunks must be a Buffer, Uint8Array or ArrayBuffer`,
        { file: this.source, field: 'chunk', offset: this.bytesReceived },
      );
    }
    let all: Uint8Array;
    if (this.pending.length === 0) all = bytes;
    else {
      all = new Uint8Array(this.pending.length + bytes.length);
      all.set(this.pending);
      all.set(bytes, this.pending.length);
    }
    const frames = Math.floor(all.length / this.frameBytes);
    const out = this.decode(all, frames);
    const used = frames * this.frameBytes;
    // Copy the remainder: the caller may reuse its chunk's memory. (Not `.slice`: on a
    // Buffer that is a view, not a copy.)
    this.pending = new Uint8Array(all.subarray(used));
    this.consumed += used;
    this.chunks++;
    return out;
  }

  /**
   * Ends the stream.
   *
   * @throws {@link TruncatedFileError} when it ended inside a frame (names the byte offset
   *   of that frame and how many of its bytes came).
   */
  end(): void {
    if (this.pending.length > 0) {
      throw new TruncatedFileError(
        `the stream ended inside a sample frame (${this.pending.length} of ${this.frameBytes} bytes)`,
        { file: this.source, field: 'pcm', offset: this.consumed },
      );
    }
  }

  private decode(all: Uint8Array, frames: number): Float32Array {
    const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
    const out = new Float32Array(frames);
    const ch = this.channels;
    const bps = this.bytesPerSample;
    const scale = 1 / ch;
    for (let f = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < ch; c++) {
        const at = (f * ch + c) * bps;
        let x: number;
        if (this.encoding === 's16le') x = view.getInt16(at, true) / 32768;
        else {
          x = view.getFloat32(at, true);
          if (!Number.isFinite(x)) {
            const offset = this.consumed + at; // all[0] is the first byte not yet decoded
            throw new BadInputError(`f32le sample is ${x}`, { file: this.source, field: 'pcm', offset });
          }
        }
        sum += x;
      }
      out[f] = ch === 1 ? sum : sum * scale;
    }
    return out;
  }
}

function asBytes(chunk: unknown): Uint8Array | undefined {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  return name ? `a ${name}` : 'an object';
}
