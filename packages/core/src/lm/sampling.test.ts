import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { argmax, bitsFor, Sampler, softmax } from './sampling.js';

describe('sampling', () => {
  const logits = Float32Array.from([0, 3, 1, 2.5, -1]);

  it('temperature 0 is greedy', () => {
    const s = new Sampler({ temperature: 0 });
    for (let i = 0; i < 5; i++) expect(s.sample(logits)).toBe(1);
    expect(argmax(logits)).toBe(1);
  });

  it('same seed, same draws; frequencies follow softmax', () => {
    const a = new Sampler({ seed: 42 });
    const b = new Sampler({ seed: 42 });
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 20000; i++) {
      const t = a.sample(logits);
      expect(b.sample(logits)).toBe(t);
      counts[t]++;
    }
    const p = softmax(logits);
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / 20000 - p[i]!)).toBeLessThan(0.015);
  });

  it('top-p keeps only the nucleus', () => {
    const s = new Sampler({ seed: 1, topP: 0.5 });
    // p(1) ~ 0.55 alone exceeds 0.5: only token 1 can be drawn.
    for (let i = 0; i < 200; i++) expect(s.sample(logits)).toBe(1);
    const wider = new Sampler({ seed: 1, topP: 0.9 });
    const seen = new Set(Array.from({ length: 500 }, () => wider.sample(logits)));
    expect([...seen].sort()).toEqual([1, 2, 3]);
  });

  it('bitsFor is -log2 softmax', () => {
    const p = softmax(logits);
    expect(bitsFor(logits, 3)).toBeCloseTo(-Math.log2(p[3]!), 10);
  });

  it('rejects bad options', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow(BadInputError);
    expect(() => new Sampler({ topP: 0 })).toThrow(/topP/);
    expect(() => new Sampler({ topP: 1.5 })).toThrow(/topP/);
  });
});
