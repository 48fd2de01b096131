import { BadInputError, SeededRandom } from '@rwkv-streams/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { detectSpeech } from '../operators/detect-speech.js';
import { SpeechSegmenter } from './speech-segmenter.js';
import { WebRtcVad } from './webrtc-vad.js';

const RATE = 16000;

/** Quiet noise with voiced bursts (a 140 Hz harmonic series, syllable-like envelope). */
function scene(parts: [kind: 'silence' | 'voice', seconds: number][], seed = 1): Float32Array {
  const rng = new SeededRandom(seed);
  const out: number[] = [];
  for (const [kind, seconds] of parts) {
    const n = Math.round(seconds * RATE);
    for (let i = 0; i < n; i++) {
      const t = i / RATE;
      let v = 0.003 * rng.normal();
      if (kind === 'voice') {
        const env = 0.6 + 0.4 * Math.sin(2 * Math.PI * 4 * t);
        for (let h = 1; h <= 8; h++) v += (0.25 / h) * env * Math.sin(2 * Math.PI * 140 * h * t);
      }
      out.push(v);
    }
  }
  return Float32Array.from(out);
}

describe('SpeechSegmenter', () => {
  it('opens after min speech, closes after min silence, with padding; holds only what it needs', () => {
    const f = 0.03;
    const seg = new SpeechSegmenter(f, {
      minSpeechSeconds: 0.09,
      minSilenceSeconds: 0.15,
      paddingSeconds: 0.03,
    });
    // 10 silent, 20 speech, 10 silent frames (frame = 480 samples)
    const probs = [...Array(10).fill(0), ...Array(20).fill(1), ...Array(10).fill(0)];
    const audio = Float32Array.from({ length: probs.length * 480 }, (_, i) => i);
    const out = [...seg.push(audio, probs), ...seg.flush()];
    expect(out).toHaveLength(1);
    expect(out[0]!.start).toBeCloseTo(0.3 - 0.03, 6);
    expect(out[0]!.end).toBeCloseTo(0.9 + 0.03, 6);
    expect(out[0]!.samples.length).toBe(Math.round((0.93 - 0.27) * RATE));
    expect(out[0]!.samples[0]).toBe(Math.round(0.27 * RATE)); // the samples of [start, end)
  });

  it('ignores speech shorter than min speech; cuts at max speech; validates options', () => {
    const seg = new SpeechSegmenter(0.03, { minSpeechSeconds: 0.25, maxSpeechSeconds: 0.6 });
    const short = seg.push(new Float32Array(20 * 480), [...Array(5).fill(1), ...Array(15).fill(0)]);
    expect(short).toEqual([]);
    const long = seg.push(new Float32Array(40 * 480), Array(40).fill(1));
    expect(long.length).toBeGreaterThanOrEqual(1);
    expect(long[0]!.end - long[0]!.start).toBeLessThanOrEqual(0.6 + 1e-9);
    expect(() => new SpeechSegmenter(0.03, { threshold: -1 })).toThrow(BadInputError);
  });
});

describe('WebRTC VAD and detectSpeech()', () => {
  const audio = scene([
    ['silence', 1],
    ['voice', 1.2],
    ['silence', 1],
    ['voice', 0.8],
    ['silence', 1],
  ]);

  it('finds the voiced stretches of a scene, in any chunking', async () => {
    const run = async (chunk: number) => {
      const chunks: Float32Array[] = [];
      for (let i = 0; i < audio.length; i += chunk) chunks.push(audio.slice(i, i + chunk));
      return lastValueFrom(
        from(chunks).pipe(
          detectSpeech({ vad: () => WebRtcVad.create({ mode: 2 }), minSilenceSeconds: 0.3 }),
          toArray(),
        ),
      );
    };
    const a = await run(1600);
    const b = await run(777);
    expect(b).toEqual(a);
    expect(a).toHaveLength(2);
    expect(a[0]!.start).toBeGreaterThan(0.8);
    expect(a[0]!.start).toBeLessThan(1.1);
    expect(a[0]!.end).toBeGreaterThan(2.1);
    expect(a[0]!.end).toBeLessThan(2.6);
    expect(a[1]!.start).toBeGreaterThan(3.0);
    expect(a[1]!.end).toBeLessThan(4.5);
    expect(a[0]!.samples.length).toBe(Math.round((a[0]!.end - a[0]!.start) * RATE));
  });

  it('silence gives no segment; bad options and samples are typed errors', async () => {
    const quiet = scene([['silence', 2]]);
    const segs = await lastValueFrom(
      from([quiet]).pipe(detectSpeech({ vad: () => WebRtcVad.create() }), toArray()),
    );
    expect(segs).toEqual([]);
    await expect(WebRtcVad.create({ frameMs: 25 as 30 })).rejects.toThrow(/10, 20 or 30/);
    const vad = await WebRtcVad.create();
    expect(() => vad.accept(Float32Array.of(0, Number.NaN))).toThrow(/sample 1/);
    vad.dispose();
    await expect(
      lastValueFrom(
        from([{ samples: quiet, sampleRate: 8000 }]).pipe(detectSpeech({ vad: () => WebRtcVad.create() })),
      ),
    ).rejects.toThrow(/16 kHz/);
  });
});
