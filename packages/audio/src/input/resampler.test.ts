import { BadInputError, DisposedError, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { Resampler, type ResamplerQuality, resampleAll } from './resampler.js';

const tone = (n: number, hz: number, rate: number, amp = 0.5) =>
  Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

const rms = (x: Float32Array, from: number, to: number) => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (to - from));
};
const db = (r: number) => 20 * Math.log10(r);

/** Quality figures of one converter: passband error, worst alias, speed. */
async function measure(quality: ResamplerQuality, from: number) {
  const n = from; // one second
  const edge = 400; // output samples skipped at each end
  // Passband: a 1 kHz tone vs the analytic tone at 16 kHz.
  const y = await resampleAll(tone(n, 1000, from), { from, quality });
  let err = 0;
  for (let i = edge; i < y.length - edge; i++) {
    err += (y[i]! - 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000)) ** 2;
  }
  const snr = db(
    rms(tone(y.length, 1000, 16000), edge, y.length - edge) / Math.sqrt(err / (y.length - 2 * edge)),
  );
  const gain7k = db(
    rms(await resampleAll(tone(n, 7000, from), { from, quality }), edge, 16000 - edge) /
      rms(tone(n, 7000, from), 0, n),
  );
  // Aliasing: tones above the new Nyquist (8.5 .. 20 kHz) must vanish.
  let alias = Number.NEGATIVE_INFINITY;
  for (let hz = 8500; hz <= Math.min(20000, from / 2 - 500); hz += 1000) {
    const out = await resampleAll(tone(n, hz, from), { from, quality });
    alias = Math.max(alias, db(rms(out, edge, out.length - edge) / rms(tone(n, hz, from), 0, n)));
  }
  // Speed: 20 s of noise.
  const rng = new SeededRandom(1);
  const noise = Float32Array.from({ length: 20 * from }, () => rng.uniform() - 0.5);
  const t0 = performance.now();
  await resampleAll(noise, { from, quality });
  const ms = performance.now() - t0;
  return { snr, gain7k, alias, realtime: 20000 / ms };
}

describe('Resampler (libsamplerate)', () => {
  it('measures quality and speed: passband SNR, 7 kHz gain, worst alias of tones 8.5-20 kHz', async () => {
    // Every converter from 48 kHz, and the default one from 44.1 kHz (kept short: 2 shared cores).
    const runs: [ResamplerQuality, number][] = [
      ['best', 48000],
      ['medium', 48000],
      ['fastest', 48000],
      ['medium', 44100],
    ];
    for (const [quality, from] of runs) {
      const m = await measure(quality, from);
      console.log(
        `resample ${from}->16000 ${quality}: 1 kHz SNR ${m.snr.toFixed(1)} dB, 7 kHz gain ${m.gain7k.toFixed(2)} dB, worst alias ${m.alias.toFixed(1)} dB, ${m.realtime.toFixed(0)}x real time`,
      );
      expect(m.snr).toBeGreaterThan(70);
      expect(m.alias).toBeLessThan(-70);
    }
  }, 120_000);

  it('streams: any chunking gives the whole-signal output within 1e-6, same length', async () => {
    const rng = new SeededRandom(3);
    const x = Float32Array.from(
      { length: 44100 * 2 + 17 },
      (_, i) => 0.4 * Math.sin(i / 7) + 0.1 * (rng.uniform() - 0.5),
    );
    const whole = await resampleAll(x, { from: 44100 });
    expect(whole.length).toBe(Math.ceil((x.length * 16000) / 44100));
    let worst = 0;
    for (const max of [1, 100, 441, 5000, 100000]) {
      const r = await Resampler.create({ from: 44100 });
      const parts: Float32Array[] = [];
      for (let at = 0; at < x.length; ) {
        const n = Math.min(x.length - at, 1 + Math.floor(rng.uniform() * max));
        parts.push(r.push(x.subarray(at, at + n)));
        at += n;
      }
      parts.push(r.flush());
      r.dispose();
      const y = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        y.set(p, at);
        at += p.length;
      }
      expect(y.length).toBe(whole.length);
      let m = 0;
      for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(y[i]! - whole[i]!));
      console.log(`resample chunks up to ${max}: max |streamed - whole| ${m.toExponential(2)}`);
      worst = Math.max(worst, m);
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('a very long push (30 s, past the 1M-sample buffer of libsamplerate-js) matches 1 s chunks within 1e-6', async () => {
    const x = Float32Array.from({ length: 44100 * 30 }, (_, i) => 0.3 * Math.sin(i / 5) * Math.sin(i / 9000));
    const whole = await resampleAll(x, { from: 44100 });
    expect(whole.length).toBe(16000 * 30);
    const r = await Resampler.create({ from: 44100 });
    let m = 0;
    let at = 0;
    const check = (part: Float32Array) => {
      for (let i = 0; i < part.length; i++) m = Math.max(m, Math.abs(part[i]! - whole[at + i]!));
      at += part.length;
    };
    for (let s = 0; s < x.length; s += 44100) check(r.push(x.subarray(s, s + 44100)));
    check(r.flush());
    r.dispose();
    expect(at).toBe(whole.length);
    console.log(`resample 30 s in one push vs 1 s chunks: max |diff| ${m.toExponential(2)}`);
    expect(m).toBeLessThan(1e-6);
  });

  it('copies when the rates are equal; handles empty and very short input', async () => {
    const x = Float32Array.of(0.1, 0.2);
    const same = await resampleAll(x, { from: 16000 });
    expect(Array.from(same)).toEqual(Array.from(x));
    expect(same).not.toBe(x);
    expect((await resampleAll(new Float32Array(0), { from: 8000 })).length).toBe(0);
    expect((await resampleAll(Float32Array.of(0.5), { from: 8000 })).length).toBe(2);
    expect((await resampleAll(new Float32Array(3), { from: 48000 })).length).toBe(1);
  });

  it('refuses bad options, bad samples, use after flush or dispose, with typed errors', async () => {
    await expect(Resampler.create({ from: 0 })).rejects.toThrow(/from/);
    await expect(Resampler.create({ from: 44100, to: 1.5 })).rejects.toThrow(/to/);
    await expect(Resampler.create({ from: 44100, quality: 'great' as never })).rejects.toBeInstanceOf(
      BadInputError,
    );
    const r = await Resampler.create({ from: 22050 });
    expect(() => r.push(Float32Array.of(0, Number.NaN))).toThrow(/sample 1/);
    expect(r.samplesIn).toBe(0);
    expect(() => r.push([0.1] as unknown as Float32Array)).toThrow(BadInputError);
    r.push(new Float32Array(100));
    r.flush();
    expect(() => r.push(new Float32Array(1))).toThrow(/after flush/);
    r.dispose();
    r.dispose();
    expect(() => r.flush()).toThrow(DisposedError);
  });
});
