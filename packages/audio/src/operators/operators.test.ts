import { BadInputError, type RwkvError, SeededRandom, TruncatedFileError } from '@rwkv-streams/core';
import { firstValueFrom, from, lastValueFrom, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { computeFbank } from '../features/fbank.js';
import type { FeatureFrame } from '../features/streaming-fbank.js';
import { resampleAll } from '../input/resampler.js';
import { decodePcm } from './decode-pcm.js';
import { fbank } from './fbank.js';
import { resample } from './resample.js';

/** 0.5 s of a stereo 44.1 kHz s16le signal, as bytes. */
function stereoBytes(): { bytes: Uint8Array; mono: Float32Array } {
  const n = 22050;
  const rng = new SeededRandom(11);
  const bytes = new Uint8Array(n * 4);
  const dv = new DataView(bytes.buffer);
  const mono = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = Math.round(9000 * Math.sin((2 * Math.PI * 300 * i) / 44100) + 500 * (rng.uniform() - 0.5));
    const r = Math.round(6000 * Math.sin((2 * Math.PI * 2100 * i) / 44100));
    dv.setInt16(i * 4, l, true);
    dv.setInt16(i * 4 + 2, r, true);
    mono[i] = (l / 32768 + r / 32768) * 0.5;
  }
  return { bytes, mono };
}

const s16Bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);

function randomChunks(bytes: Uint8Array, max: number, seed: number): Uint8Array[] {
  const rng = new SeededRandom(seed);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, 1 + Math.floor(rng.uniform() * max));
    out.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
}

const bits = (frames: FeatureFrame[] | Float32Array[]) =>
  frames.map((f) => Array.from(new Uint32Array(('features' in f ? f.features : f).buffer)).join(','));

describe('decodePcm -> resample -> fbank', () => {
  const { bytes, mono } = stereoBytes();

  it('chunked bytes give the whole-file features bit for bit (random chunkings, split samples)', async () => {
    const whole = computeFbank(await resampleAll(mono, { from: 44100 }));
    expect(whole.length).toBe(48); // 8000 samples at 16 kHz
    for (const [max, seed] of [
      [3, 1],
      [999, 2],
      [8820, 3],
    ] as const) {
      const frames = await lastValueFrom(
        from(randomChunks(bytes, max, seed)).pipe(
          decodePcm({ encoding: 's16le', channels: 2 }),
          resample({ from: 44100 }),
          fbank(),
          toArray(),
        ),
      );
      expect(frames.map((f) => f.index)).toEqual(whole.map((_, i) => i));
      expect(bits(frames)).toEqual(bits(whole));
    }
  });

  it('survives one bad chunk with onBadChunk (skip / report), errors by default', async () => {
    const chunks: unknown[] = randomChunks(bytes, 2000, 4);
    const clean = await lastValueFrom(
      from(chunks as Uint8Array[]).pipe(
        decodePcm({ encoding: 's16le', channels: 2 }),
        fbank({ sampleRate: 44100 }),
        toArray(),
      ),
    );
    const withBad = [...chunks.slice(0, 5), 'not bytes', ...chunks.slice(5)];
    const reported: [RwkvError, number][] = [];
    const survived = await lastValueFrom(
      from(withBad as Uint8Array[]).pipe(
        decodePcm({ encoding: 's16le', channels: 2, onBadChunk: (e, i) => reported.push([e, i]) }),
        fbank({ sampleRate: 44100 }),
        toArray(),
      ),
    );
    expect(bits(survived)).toEqual(bits(clean));
    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBeInstanceOf(BadInputError);
    expect(reported[0]![1]).toBe(5);
    const skipped = await lastValueFrom(
      from(withBad as Uint8Array[]).pipe(
        decodePcm({ encoding: 's16le', channels: 2, onBadChunk: 'skip' }),
        toArray(),
      ),
    );
    expect(skipped.reduce((n, c) => n + c.length, 0)).toBe(22050);
    await expect(
      lastValueFrom(from(withBad as Uint8Array[]).pipe(decodePcm({ encoding: 's16le', channels: 2 }))),
    ).rejects.toBeInstanceOf(BadInputError);
  });

  it('an incomplete last frame: TruncatedFileError by default, dropped under skip', async () => {
    const cut = [bytes.subarray(0, 4003)];
    await expect(
      lastValueFrom(from(cut).pipe(decodePcm({ encoding: 's16le', channels: 2 }))),
    ).rejects.toBeInstanceOf(TruncatedFileError);
    const out = await lastValueFrom(
      from(cut).pipe(decodePcm({ encoding: 's16le', channels: 2, onBadChunk: 'skip' }), toArray()),
    );
    expect(out.reduce((n, c) => n + c.length, 0)).toBe(1000);
  });

  it('fbank skips a chunk with a NaN and keeps its frame clock', async () => {
    const x = mono.slice(0, 16000);
    const bad = Float32Array.of(0, Number.NaN);
    const frames = await lastValueFrom(
      from([x.subarray(0, 1000), bad, x.subarray(1000)]).pipe(fbank({ onBadChunk: 'skip' }), toArray()),
    );
    expect(bits(frames)).toEqual(bits(computeFbank(x)));
    await expect(lastValueFrom(from([bad]).pipe(fbank()))).rejects.toThrow(/sample 1/);
  });

  it('resample emits chunks that came while libsamplerate loaded; unsubscribe and a bad chunk end it cleanly', async () => {
    const subject = new Subject<Float32Array>();
    const got: Float32Array[] = [];
    const sub = subject.pipe(resample({ from: 8000 })).subscribe((c) => got.push(c));
    subject.next(new Float32Array(800).fill(0.25)); // arrives before libsamplerate has loaded
    await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    expect(got.reduce((n, c) => n + c.length, 0)).toBeGreaterThan(0);
    await expect(
      firstValueFrom(from([[1, 2] as unknown as Float32Array]).pipe(resample({ from: 8000 }))),
    ).rejects.toBeInstanceOf(BadInputError);
  });

  it('input shorter than one frame: samples out, no frames, clean completion', async () => {
    const short = [new Uint8Array(s16Bytes(300))];
    const samples = await lastValueFrom(from(short).pipe(decodePcm({ encoding: 's16le' }), toArray()));
    expect(samples.reduce((n, c) => n + c.length, 0)).toBe(150);
    const frames = await lastValueFrom(
      from(short).pipe(decodePcm({ encoding: 's16le' }), fbank(), toArray()),
    );
    expect(frames).toEqual([]);
    expect(
      await lastValueFrom(from([] as Uint8Array[]).pipe(decodePcm({ encoding: 's16le' }), toArray())),
    ).toEqual([]);
  });

  it('checks options when the pipeline is written', () => {
    expect(() => decodePcm({ encoding: 'mp3' as never })).toThrow(/encoding/);
    expect(() => resample({ from: -1 })).toThrow(/from/);
    expect(() => fbank({ numMelBins: 1 })).toThrow(/numMelBins/);
    expect(() => fbank({ onBadChunk: 'ignore' as never })).toThrow(/onBadChunk/);
  });
});
