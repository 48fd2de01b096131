import { BadInputError, SeededRandom, TruncatedFileError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { PcmDecoder } from './pcm-decoder.js';

function s16(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => {
    b.writeInt16LE(v, i * 2);
  });
  return b;
}

function decodeInPieces(decoder: PcmDecoder, bytes: Uint8Array, sizes: () => number): number[] {
  const out: number[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, sizes());
    // A fresh copy per chunk, reused afterwards, as a socket's pooled buffers would be.
    const chunk = Buffer.from(bytes.subarray(at, at + n));
    out.push(...decoder.push(chunk));
    chunk.fill(0xaa);
    at += n;
  }
  decoder.end();
  return out;
}

describe('PcmDecoder', () => {
  const rng = new SeededRandom(5);
  const ints = Array.from({ length: 3001 }, () => Math.floor(rng.uniform() * 65536) - 32768);
  ints[0] = -32768;
  ints[1] = 32767;

  it('s16le: any chunking (1 byte, odd sizes, samples split in two) gives v / 32768 exactly', () => {
    const bytes = s16(ints);
    for (const max of [1, 2, 3, 7, 1000, 10000]) {
      const got = decodeInPieces(
        new PcmDecoder({ encoding: 's16le' }),
        bytes,
        () => 1 + Math.floor(rng.uniform() * max),
      );
      const back = got.map((x) => x * 32768);
      const bad = back.findIndex((v, i) => v !== ints[i]);
      expect(bad, `max ${max}: at ${bad}: ${back[bad]} vs ${ints[bad]}, length ${back.length}`).toBe(-1);
    }
  });

  it('f32le and interleaved channels (mean), chunks split inside a frame, ArrayBuffer chunks too', () => {
    const f = new Float32Array([0.5, -0.25, 1, 0, -1, 0.75]);
    const bytes = new Uint8Array(f.buffer);
    const d = new PcmDecoder({ encoding: 'f32le', channels: 2 });
    expect(Array.from(d.push(bytes.slice(0, 5).buffer))).toEqual([]);
    expect(d.pendingBytes).toBe(5);
    expect(Array.from(d.push(bytes.subarray(5, 17)))).toEqual([0.125, 0.5]);
    expect(Array.from(d.push(bytes.subarray(17)))).toEqual([-0.125]);
    expect(d.bytesReceived).toBe(24);
    d.end();
  });

  it('an empty chunk gives nothing and changes nothing', () => {
    const d = new PcmDecoder({ encoding: 's16le' });
    expect(d.push(new Uint8Array(0)).length).toBe(0);
    expect(d.bytesReceived).toBe(0);
  });

  it('refuses wrong chunk types and non-finite floats, unchanged, so the next chunk goes on', () => {
    const d = new PcmDecoder({ encoding: 'f32le', source: 'mic' });
    const good = new Uint8Array(new Float32Array([0.5, 0.25]).buffer);
    d.push(good.subarray(0, 3));
    for (const bad of ['text', [1, 2], 42, null, new Float32Array(2), { length: 4 }]) {
      expect(() => d.push(bad)).toThrow(BadInputError);
    }
    try {
      d.push('text');
    } catch (error) {
      expect(error).toMatchObject({ file: 'mic', field: 'chunk', offset: 3 });
      expect((error as Error).message).toMatch(/chunk 1 is a string/);
    }
    const nan = new Uint8Array(new Float32Array([Number.NaN]).buffer);
    const withNan = new Uint8Array([...good.subarray(3), ...nan]);
    expect(() => d.push(withNan)).toThrow(/f32le sample is NaN/);
    try {
      d.push(withNan);
    } catch (error) {
      expect(error).toMatchObject({ field: 'pcm', offset: 8 });
    }
    expect(Array.from(d.push(good.subarray(3)))).toEqual([0.5, 0.25]);
  });

  it('end() inside a frame is a TruncatedFileError naming the offset', () => {
    const d = new PcmDecoder({ encoding: 's16le', channels: 2 });
    d.push(new Uint8Array(6));
    expect(() => d.end()).toThrow(TruncatedFileError);
    expect(() => d.end()).toThrow(/offset 4.*2 of 4 bytes/);
  });

  it('validates options', () => {
    expect(() => new PcmDecoder({ encoding: 'u8' as never })).toThrow(/encoding/);
    expect(() => new PcmDecoder({ encoding: 's16le', channels: 0 })).toThrow(/channels/);
  });
});
