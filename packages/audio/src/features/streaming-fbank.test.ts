import { BadInputError, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { computeFbank, LOG_FLOOR } from './fbank.js';
import { StreamingFbank } from './streaming-fbank.js';

function signal(n: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++)
    x[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 0.05 * (rng.uniform() * 2 - 1);
  return x;
}

function streamAll(x: Float32Array, sizes: (i: number) => number): Float32Array[] {
  const fb = new StreamingFbank();
  const out: Float32Array[] = [];
  let at = 0;
  for (let k = 0; at < x.length; k++) {
    const n = Math.min(sizes(k), x.length - at);
    for (const f of fb.accept(x.subarray(at, at + n))) {
      expect(f.index).toBe(out.length);
      expect(f.start).toBeCloseTo((f.index * 160) / 16000, 12);
      out.push(f.features);
    }
    at += n;
  }
  return out;
}

function expectBitEqual(a: Float32Array[], b: Float32Array[]): void {
  expect(a.length).toBe(b.length);
  for (let t = 0; t < a.length; t++) {
    // Compare bit patterns, so that even -0 vs 0 or NaN would show.
    expect(new Uint32Array(a[t]!.buffer).join(',')).toBe(new Uint32Array(b[t]!.buffer).join(','));
  }
}

describe('StreamingFbank', () => {
  const x = signal(16000 + 123, 1);
  const whole = computeFbank(x);

  it('gives the whole-signal frames bit for bit under random chunkings', () => {
    expect(whole.length).toBe(1 + Math.floor((x.length - 400) / 160));
    const rng = new SeededRandom(7);
    for (let trial = 0; trial < 20; trial++) {
      const max = [1, 3, 159, 161, 400, 1000, 5000][trial % 7]!;
      expectBitEqual(
        streamAll(x, () => 1 + Math.floor(rng.uniform() * max)),
        whole,
      );
    }
  });

  it('emits a frame as soon as its last sample arrives', () => {
    const fb = new StreamingFbank();
    expect(fb.accept(x.subarray(0, 399))).toHaveLength(0);
    expect(fb.accept(x.subarray(399, 400))).toHaveLength(1);
    expect(fb.accept(x.subarray(400, 559))).toHaveLength(0);
    expect(fb.accept(x.subarray(559, 560))).toHaveLength(1);
    expect(fb.accept(new Float32Array(0))).toHaveLength(0);
    expect(fb.framesEmitted).toBe(2);
  });

  it('handles inputs shorter than one frame, silence, and empty chunks', () => {
    expect(computeFbank(new Float32Array(399))).toHaveLength(0);
    expect(computeFbank(new Float32Array(0))).toHaveLength(0);
    const silent = computeFbank(new Float32Array(1600));
    expect(silent).toHaveLength(8);
    for (const f of silent) for (const v of f) expect(v).toBe(Math.fround(Math.log(LOG_FLOOR)));
  });

  it('keeps memory flat over a long stream (an hour of 100 ms chunks, buffer bounded)', () => {
    const fb = new StreamingFbank();
    const chunk = signal(1600, 3);
    let frames = 0;
    for (let i = 0; i < 36000; i++) frames += fb.accept(chunk).length;
    expect(frames).toBe(1 + Math.floor((36000 * 1600 - 400) / 160));
    // One huge chunk grows the buffer; it is given back afterwards.
    fb.accept(new Float32Array(1_000_000));
    expect((fb as unknown as { buffer: Float64Array }).buffer.length).toBeLessThanOrEqual(800);
  });

  it('refuses a non-finite sample without taking the chunk', () => {
    const fb = new StreamingFbank();
    fb.accept(x.subarray(0, 300));
    const bad = x.slice(300, 500);
    bad[5] = Number.NaN;
    expect(() => fb.accept(bad)).toThrow(BadInputError);
    expect(() => fb.accept(bad)).toThrow(/sample 305/);
    expect(fb.samplesReceived).toBe(300);
    const rest = fb.accept(x.subarray(300));
    const ref = computeFbank(x);
    expectBitEqual(
      rest.map((f) => f.features),
      ref,
    );
  });

  it('reset() starts a new stream: the same frames again from index 0', () => {
    const fb = new StreamingFbank();
    const first = fb.accept(x.subarray(0, 5000));
    fb.accept(x.subarray(0, 777)); // a partial frame of another stream, then forgotten
    fb.reset();
    expect(fb.samplesReceived).toBe(0);
    const again = fb.accept(x.subarray(0, 5000));
    expect(again.map((f) => f.index)).toEqual(first.map((f) => f.index));
    expectBitEqual(
      again.map((f) => f.features),
      first.map((f) => f.features),
    );
  });

  it('validates options with named errors', () => {
    expect(() => new StreamingFbank({ numMelBins: 2 })).toThrow(/numMelBins/);
    expect(() => new StreamingFbank({ sampleRate: -1 })).toThrow(/sampleRate/);
    expect(() => new StreamingFbank({ lowFreq: 9000 })).toThrow(/lowFreq/);
    expect(() => new StreamingFbank({ preemphasis: 2 })).toThrow(/preemphasis/);
    expect(() => new StreamingFbank({ inputScale: 0 })).toThrow(/inputScale/);
  });

  it('scales by inputScale: 1.0 on int16-range samples equals the default on [-1, 1) samples', () => {
    const ints = Float32Array.from(x, (v) => Math.round(v * 32768) / 32768);
    const big = Float32Array.from(ints, (v) => v * 32768);
    expectBitEqual(computeFbank(big, { inputScale: 1 }), computeFbank(ints));
  });
});
