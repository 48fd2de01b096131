import { SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { RealPowerSpectrum } from './fft.js';
import { kaldiMelBanks, melScale } from './mel-banks.js';
import { poveyWindow } from './window.js';

describe('RealPowerSpectrum (fft.js)', () => {
  it('equals a direct DFT power spectrum', () => {
    const n = 512;
    const rng = new SeededRandom(2);
    const x = Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1);
    const p = new Float64Array(n / 2 + 1);
    new RealPowerSpectrum(n).power(x, p);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < n; j++) {
        re += x[j]! * Math.cos((2 * Math.PI * j * k) / n);
        im -= x[j]! * Math.sin((2 * Math.PI * j * k) / n);
      }
      expect(Math.abs(p[k]! - (re * re + im * im))).toBeLessThan(1e-9 * (1 + re * re + im * im));
    }
  });

  it('refuses sizes that are not powers of two', () => {
    expect(() => new RealPowerSpectrum(400)).toThrow(/power of two/);
  });
});

describe('Kaldi mel bank and povey window', () => {
  it('has 80 triangles between 20 Hz and Nyquist, each peaking below 1 and ordered', () => {
    const bank = kaldiMelBanks(80, 512, 16000, 20, 8000);
    expect(bank).toHaveLength(80);
    let prevStart = -1;
    for (const f of bank) {
      expect(f.weights.length).toBeGreaterThan(0);
      expect(Math.max(...f.weights)).toBeLessThanOrEqual(1);
      expect(f.start).toBeGreaterThanOrEqual(prevStart);
      prevStart = f.start;
      expect(f.start + f.weights.length).toBeLessThanOrEqual(256); // the Nyquist bin has weight 0
    }
    // The first triangle starts above 20 Hz (bin width 31.25 Hz).
    expect(bank[0]!.start).toBeGreaterThanOrEqual(1);
    expect(melScale(700)).toBeCloseTo(1127 * Math.log(2), 10);
  });

  it('povey window is zero at both ends, 1 in the middle, symmetric', () => {
    const w = poveyWindow(400);
    expect(w[0]).toBe(0);
    expect(w[399]).toBeLessThan(1e-15);
    expect(Math.max(...w)).toBeCloseTo(1, 4);
    for (let i = 0; i < 200; i++) expect(w[i]).toBeCloseTo(w[399 - i]!, 12);
  });
});
