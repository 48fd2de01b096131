import { describe, expect, it } from 'vitest';
import { activityLabels } from './activity-labels.js';
import { wordErrors } from './word-errors.js';

describe('wordErrors', () => {
  it('counts substitutions, deletions and insertions over words', () => {
    expect(wordErrors('the cat sat on the mat', 'the cat sat on the mat')).toEqual({ edits: 0, words: 6 });
    expect(wordErrors('the cat sat on the mat', 'a cat sat the mat mat')).toEqual({ edits: 3, words: 6 });
    expect(wordErrors('one two', '')).toEqual({ edits: 2, words: 2 });
    expect(wordErrors('', 'extra words')).toEqual({ edits: 2, words: 0 });
    expect(wordErrors('  spaced   out ', 'spaced out')).toEqual({ edits: 0, words: 2 });
  });
});

describe('activityLabels', () => {
  const tone = (seconds: number, amp: number): Float32Array =>
    Float32Array.from({ length: Math.round(seconds * 16000) }, (_, i) => amp * Math.sin(i * 0.2));
  const join = (...parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };

  it('marks loud frames, fills short pauses and keeps long ones', () => {
    const x = join(tone(0.5, 0), tone(0.5, 0.5), tone(0.1, 0), tone(0.5, 0.5), tone(0.6, 0), tone(0.3, 0.5));
    const lab = activityLabels(x);
    expect(lab.length).toBe(1 + Math.floor((x.length - 400) / 160));
    expect(lab[10]).toBe(0); // leading silence
    expect(lab[75]).toBe(1); // first tone
    expect(lab[105]).toBe(1); // 100 ms pause: filled
    expect(lab[180]).toBe(0); // 600 ms pause: kept
    expect(lab[230]).toBe(1); // last tone
  });

  it('is relative to the loudest frame (-40 dB default)', () => {
    const x = join(tone(0.5, 0.5), tone(0.5, 0.001), tone(0.5, 0.1));
    const lab = activityLabels(x);
    expect(lab[20]).toBe(1);
    expect(lab[75]).toBe(0); // -54 dB
    expect(lab[125]).toBe(1); // -14 dB
    expect(activityLabels(new Float32Array(100)).length).toBe(0);
  });
});
