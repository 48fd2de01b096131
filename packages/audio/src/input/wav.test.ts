import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BadMagicError,
  FileNotFoundError,
  MalformedFileError,
  TruncatedFileError,
  UnsupportedDTypeError,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { loadWav } from './load-wav.js';
import { decodeWav, mixToMono, readWav } from './wav.js';

interface Spec {
  tag?: number; // format tag (default 1 int / 3 float)
  subFormat?: number; // extensible: the real tag
  bits: number;
  channels: number;
  rate?: number;
  data: Uint8Array;
  extraChunks?: Uint8Array[]; // chunks placed before fmt
  dataSize?: number; // announced size (default: data.length)
  blockAlign?: number;
}

function chunk(id: string, body: Uint8Array, announced = body.length): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1));
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, announced, true);
  out.set(body, 8);
  return out;
}

/** A WAV file written by hand, byte by byte, so the tests control every field. */
function wavBytes(s: Spec): Uint8Array {
  const ext = s.subFormat !== undefined;
  const fmt = new Uint8Array(ext ? 40 : 16);
  const v = new DataView(fmt.buffer);
  v.setUint16(0, ext ? 0xfffe : (s.tag ?? 1), true);
  v.setUint16(2, s.channels, true);
  v.setUint32(4, s.rate ?? 16000, true);
  const align = s.blockAlign ?? (s.channels * s.bits) / 8;
  v.setUint32(8, (s.rate ?? 16000) * align, true);
  v.setUint16(12, align, true);
  v.setUint16(14, s.bits, true);
  if (ext) {
    v.setUint16(16, 22, true);
    v.setUint16(18, s.bits, true);
    v.setUint16(24, s.subFormat!, true);
  }
  const parts = [
    ...(s.extraChunks ?? []),
    chunk('fmt ', fmt),
    chunk('data', s.data, s.dataSize ?? s.data.length),
  ];
  const body = parts.reduce((n, p) => n + p.length, 4);
  const out = new Uint8Array(8 + body);
  const dv = new DataView(out.buffer);
  out.set([82, 73, 70, 70]); // RIFF
  dv.setUint32(4, body, true);
  out.set([87, 65, 86, 69], 8); // WAVE
  let at = 12;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  // A chunk's pad byte after an odd-sized data chunk is not in the announced size:
  return s.data.length & 1 ? out.subarray(0, out.length - 1) : out;
}

function int16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  for (const [i, x] of values.entries()) new DataView(b.buffer).setInt16(i * 2, x, true);
  return b;
}

describe('decodeWav (node-wav)', () => {
  it('reads 16-bit PCM exactly as v / 32768', () => {
    const ints = [0, 1, -1, 32767, -32768, 12345, -23456];
    const wav = decodeWav(wavBytes({ bits: 16, channels: 1, data: int16le(ints) }));
    expect(wav.sampleRate).toBe(16000);
    expect(wav.format).toMatchObject({ encoding: 'int', bitsPerSample: 16, channels: 1 });
    expect(Array.from(wav.channels[0]!, (x) => x * 32768)).toEqual(ints);
  });

  it('reads 8-bit unsigned PCM as (u - 128) / 128', () => {
    const wav = decodeWav(wavBytes({ bits: 8, channels: 1, data: Uint8Array.from([0, 128, 255, 1, 200]) }));
    expect(Array.from(wav.channels[0]!, (x) => x * 128)).toEqual([-128, 0, 127, -127, 72]);
  });

  it('reads 24-bit PCM, the minimum included (node-wav alone reads -2^23 as +1)', () => {
    const ints = [0, 8388607, -8388608, 1, -1, 4000000];
    const data = new Uint8Array(ints.length * 3);
    ints.forEach((x, i) => {
      const u = x < 0 ? x + 0x1000000 : x;
      data.set([u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff], i * 3);
    });
    const got = decodeWav(wavBytes({ bits: 24, channels: 1, data })).channels[0]!;
    for (const [i, x] of ints.entries()) expect(Math.abs(got[i]! - x / 8388608)).toBeLessThanOrEqual(6e-8);
    expect(got[2]).toBe(-1);
  });

  it('reads 32-bit integer PCM and 32/64-bit float, plain and extensible, any channel count', () => {
    const i32 = new Int32Array([0, 2147483647, -2147483648, 1 << 30]);
    const a = decodeWav(wavBytes({ bits: 32, channels: 2, data: new Uint8Array(i32.buffer) }));
    expect(a.channels).toHaveLength(2);
    expect(Array.from(a.channels[0]!)).toEqual([0, -1]);
    expect(a.channels[1]![0]).toBeCloseTo(1, 6);
    expect(a.channels[1]![1]).toBeCloseTo(0.5, 6);
    const f32 = new Float32Array([0.25, -0.5, 0.125, 1, -1, 0.75]);
    const b = decodeWav(
      wavBytes({ subFormat: 3, bits: 32, channels: 3, rate: 44100, data: new Uint8Array(f32.buffer) }),
    );
    expect(b.sampleRate).toBe(44100);
    expect(b.format).toMatchObject({ formatTag: 0xfffe, encoding: 'float', channels: 3 });
    expect(Array.from(b.channels[2]!)).toEqual([0.125, 0.75]);
    expect(Array.from(b.channels[1]!)).toEqual([-0.5, -1]);
    const f64 = new Float64Array([0.1, -0.2]);
    const c = decodeWav(wavBytes({ tag: 3, bits: 64, channels: 1, data: new Uint8Array(f64.buffer) }));
    expect(Array.from(c.channels[0]!)).toEqual([Math.fround(0.1), Math.fround(-0.2)]);
  });

  it('skips unknown chunks, odd sizes and pad bytes included (node-wav alone misreads these)', () => {
    const list = chunk('LIST', Uint8Array.from([1, 2, 3])); // odd: a pad byte follows
    const wav = decodeWav(wavBytes({ bits: 16, channels: 1, data: int16le([5, -5]), extraChunks: [list] }));
    expect(Array.from(wav.channels[0]!, (x) => x * 32768)).toEqual([5, -5]);
  });

  it('reads a streamed WAV whose data size is 0xFFFFFFFF to the end of the file', () => {
    const wav = decodeWav(
      wavBytes({ bits: 16, channels: 1, data: int16le([7, 8, 9]), dataSize: 0xffffffff }),
    );
    expect(wav.channels[0]!.length).toBe(3);
  });

  it('reads a long file (10 minutes of 16-bit audio, 19 MB) with exact samples at both ends', () => {
    const n = 16000 * 600;
    const data = new Uint8Array(n * 2);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < n; i++) dv.setInt16(i * 2, (i % 65536) - 32768, true);
    const got = decodeWav(wavBytes({ bits: 16, channels: 1, data })).channels[0]!;
    expect(got.length).toBe(n);
    expect(got[0]! * 32768).toBe(-32768);
    expect(got[n - 1]! * 32768).toBe(((n - 1) % 65536) - 32768);
  });

  it('gives no samples for an empty data chunk', () => {
    expect(decodeWav(wavBytes({ bits: 16, channels: 2, data: new Uint8Array(0) })).channels[1]!.length).toBe(
      0,
    );
  });
});

describe('decodeWav typed errors', () => {
  const good = wavBytes({ bits: 16, channels: 1, data: int16le([1, 2, 3, 4]) });
  const expectError = (f: () => unknown, type: new (...a: never[]) => Error, where: object) => {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject(where);
      return;
    }
    throw new Error('no error thrown');
  };

  it('bad magic: not RIFF, RIFX, not WAVE', () => {
    const notRiff = good.slice();
    notRiff.set([79, 103, 103, 83]); // OggS
    expectError(() => decodeWav(notRiff, { file: 'x.wav' }), BadMagicError, {
      file: 'x.wav',
      field: 'RIFF',
      offset: 0,
    });
    const rifx = good.slice();
    rifx[3] = 88;
    expect(() => decodeWav(rifx)).toThrow(/RIFX/);
    const notWave = good.slice();
    notWave[8] = 65;
    expectError(() => decodeWav(notWave), BadMagicError, { field: 'WAVE', offset: 8 });
  });

  it('truncated: header, chunk header, fmt, data (and truncated: keep)', () => {
    expectError(() => decodeWav(good.subarray(0, 10)), TruncatedFileError, { field: 'RIFF', offset: 10 });
    expectError(() => decodeWav(good.subarray(0, 16)), TruncatedFileError, {
      field: 'chunk header',
      offset: 12,
    });
    expectError(() => decodeWav(good.subarray(0, 30)), TruncatedFileError, { field: 'fmt ', offset: 12 });
    expectError(() => decodeWav(good.subarray(0, good.length - 3)), TruncatedFileError, {
      field: 'data',
      offset: 36,
    });
    const kept = decodeWav(good.subarray(0, good.length - 3), { truncated: 'keep' });
    expect(kept.truncated).toBe(true);
    expect(Array.from(kept.channels[0]!, (x) => x * 32768)).toEqual([1, 2]);
    const odd = wavBytes({ bits: 16, channels: 2, data: int16le([1, 2, 3]) }); // 1.5 frames announced
    expectError(() => decodeWav(odd), TruncatedFileError, { field: 'data', offset: 44 + 4 });
  });

  it('malformed: short fmt, data before fmt, no data, no fmt, inconsistent blockAlign, second fmt', () => {
    const shortFmt = good.slice();
    new DataView(shortFmt.buffer).setUint32(16, 14, true);
    expectError(() => decodeWav(shortFmt), MalformedFileError, { field: 'fmt ', offset: 12 });
    const onlyData = new Uint8Array([...good.subarray(0, 12), ...chunk('data', int16le([1]))]);
    expectError(() => decodeWav(onlyData), MalformedFileError, { field: 'fmt ', offset: 12 });
    const noData = good.subarray(0, 36);
    expectError(() => decodeWav(noData), MalformedFileError, { field: 'data', offset: 36 });
    const noFmt = new Uint8Array([...good.subarray(0, 12), ...chunk('LIST', new Uint8Array(4))]);
    expectError(() => decodeWav(noFmt), MalformedFileError, { field: 'fmt ' });
    expectError(
      () => decodeWav(wavBytes({ bits: 16, channels: 2, blockAlign: 2, data: int16le([1, 2]) })),
      MalformedFileError,
      { field: 'fmt.blockAlign', offset: 32 },
    );
    const fmtBody = good.slice(20, 36);
    const twice = wavBytes({
      bits: 16,
      channels: 1,
      data: int16le([1]),
      extraChunks: [chunk('fmt ', fmtBody)],
    });
    expect(() => decodeWav(twice)).toThrow(/second fmt/);
  });

  it('unsupported encodings: A-law, mu-law, ADPCM, extensible A-law, 12-bit, 16-bit float', () => {
    for (const [tag, name] of [
      [6, 'A-law'],
      [7, 'mu-law'],
      [2, 'ADPCM'],
    ] as const) {
      const bytes = wavBytes({ tag, bits: 8, channels: 1, data: new Uint8Array(4) });
      expectError(() => decodeWav(bytes, { file: 'a.wav' }), UnsupportedDTypeError, {
        file: 'a.wav',
        field: 'fmt.audioFormat',
        offset: 20,
      });
      expect(() => decodeWav(bytes)).toThrow(name);
    }
    expectError(
      () => decodeWav(wavBytes({ subFormat: 6, bits: 8, channels: 1, data: new Uint8Array(2) })),
      UnsupportedDTypeError,
      { field: 'fmt.subFormat', offset: 44 },
    );
    expectError(
      () => decodeWav(wavBytes({ bits: 12, channels: 1, blockAlign: 2, data: new Uint8Array(2) })),
      UnsupportedDTypeError,
      { field: 'fmt.bitsPerSample', offset: 34 },
    );
    expectError(
      () => decodeWav(wavBytes({ tag: 3, bits: 16, channels: 1, data: new Uint8Array(2) })),
      UnsupportedDTypeError,
      { field: 'fmt.bitsPerSample' },
    );
  });

  it('readWav names a missing file', async () => {
    await expect(readWav('/nonexistent/x.wav')).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(readWav('/nonexistent/x.wav')).rejects.toMatchObject({ file: '/nonexistent/x.wav' });
  });
});

describe('mixToMono and loadWav', () => {
  it('averages channels', () => {
    expect(Array.from(mixToMono([Float32Array.of(1, 0.5), Float32Array.of(0, -0.5)]))).toEqual([0.5, 0]);
    expect(() => mixToMono([])).toThrow(/no channels/);
    expect(() => mixToMono([new Float32Array(2), new Float32Array(3)])).toThrow(/channel 1/);
  });

  it('loads a stereo 48 kHz file as mono 16 kHz, reading from disk', async () => {
    const n = 4800;
    const data = new Uint8Array(n * 4);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < n; i++) {
      const s = Math.round(8000 * Math.sin((2 * Math.PI * 500 * i) / 48000));
      dv.setInt16(i * 4, s, true);
      dv.setInt16(i * 4 + 2, s, true);
    }
    const path = join(mkdtempSync(join(tmpdir(), 'audio-')), 'st.wav');
    writeFileSync(path, wavBytes({ bits: 16, channels: 2, rate: 48000, data }));
    const audio = await loadWav(path);
    expect(audio.sampleRate).toBe(16000);
    expect(audio.samples.length).toBe(1600);
    expect(audio.duration).toBeCloseTo(0.1, 10);
    let err = 0;
    for (let i = 50; i < 1550; i++) {
      err = Math.max(
        err,
        Math.abs(audio.samples[i]! - (8000 / 32768) * Math.sin((2 * Math.PI * 500 * i) / 16000)),
      );
    }
    expect(err).toBeLessThan(1e-3);
  });
});
