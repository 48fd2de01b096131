import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeWav } from '../input/wav.js';
import { FbankComputer } from './fbank.js';
import { numFrames } from './fbank-options.js';

// Fixture: training/audio/make_fbank_fixture.py, run on the GPU machine with torch/torchaudio
// 2.11.0 (manifest.json): torchaudio.compliance.kaldi.fbank on the int16 samples of each WAV,
// once in float32 (the usual) and once in float64.
const dir = fileURLToPath(new URL('../../fixtures/fbank/', import.meta.url));
const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
  cases: { name: string; samples: number; frames: number }[];
};

function bin(name: string, type: 'f4' | 'f8'): Float32Array | Float64Array {
  const b = readFileSync(`${dir}${name}`);
  const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return type === 'f4' ? new Float32Array(copy) : new Float64Array(copy);
}

describe('fbank parity with torchaudio.compliance.kaldi.fbank', () => {
  const computer = new FbankComputer(); // the defaults are the fixture's options
  const results: Record<
    string,
    { ours: Float64Array; t64: Float64Array; t32: Float32Array; frames: number }
  > = {};
  for (const c of manifest.cases) {
    const wav = decodeWav(readFileSync(`${dir}${c.name}.wav`), { file: `${c.name}.wav` });
    const samples = wav.channels[0]!;
    const frames = numFrames(samples.length, 400, 160);
    const ours = new Float64Array(frames * 80);
    for (let t = 0; t < frames; t++) computer.computeFrame(samples, t * 160, ours, t * 80);
    results[c.name] = {
      ours,
      t64: bin(`${c.name}.fbank64.bin`, 'f8') as Float64Array,
      t32: bin(`${c.name}.fbank32.bin`, 'f4') as Float32Array,
      frames,
    };
  }

  it("gives torchaudio's frame count for every case", () => {
    for (const c of manifest.cases) expect(results[c.name]!.frames, c.name).toBe(c.frames);
  });

  it('matches the float64 torchaudio computation to 1e-9 (largest |diff| printed)', () => {
    let worst = 0;
    for (const c of manifest.cases) {
      const { ours, t64 } = results[c.name]!;
      expect(t64.length).toBe(ours.length);
      let m = 0;
      for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i]! - t64[i]!));
      console.log(`fbank vs torchaudio float64: ${c.name} max |diff| ${m.toExponential(2)}`);
      worst = Math.max(worst, m);
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it('matches the float32 torchaudio computation within float32 rounding (bound stated per bin)', () => {
    // torchaudio's float32 path rounds the windowed frame, its FFT and the mel sums to
    // float32: a bin's energy then carries an absolute error near 1e-7 x the frame's total
    // energy. Where a bin's energy is far below that (pure tones' far bins), float32 rounding
    // noise is all torchaudio computes, so those bins are compared only loosely.
    let worstConditioned = 0;
    let worstAll = 0;
    for (const c of manifest.cases) {
      const { ours, t32, t64, frames } = results[c.name]!;
      let mc = 0;
      let ma = 0;
      for (let t = 0; t < frames; t++) {
        let top = Number.NEGATIVE_INFINITY;
        for (let m = 0; m < 80; m++) top = Math.max(top, t64[t * 80 + m]!);
        for (let m = 0; m < 80; m++) {
          const i = t * 80 + m;
          const d = Math.abs(ours[i]! - t32[i]!);
          ma = Math.max(ma, d);
          // within e^-12 (~52 dB) of the frame's strongest bin, or at the log floor
          if (t64[i]! > top - 12 || t64[i]! < -15.9) mc = Math.max(mc, d);
        }
      }
      console.log(
        `fbank vs torchaudio float32: ${c.name} max |diff| ${mc.toExponential(2)} (bins within 52 dB of the frame max), ${ma.toExponential(2)} (all bins)`,
      );
      worstConditioned = Math.max(worstConditioned, mc);
      worstAll = Math.max(worstAll, ma);
    }
    expect(worstConditioned).toBeLessThan(1e-4);
    expect(worstAll).toBeLessThan(0.05);
  });
});
