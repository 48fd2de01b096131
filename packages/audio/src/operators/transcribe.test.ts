import { SeededRandom } from '@rwkv-streams/core';
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinySpeechModel } from '../../test-support/tiny-speech-model.js';
import { SpeechRecognizer } from '../recognizer/speech-recognizer.js';
import { type AudioChunk, transcribe } from './transcribe.js';

/**
 * transcribe() over a small random speech model (real graphs on the CPU backend): chunks of
 * 100 ms give the final result of the whole file, concurrent pipelines on one recognizer
 * are batched without cross-talk, and audio at another rate is resampled on the way in.
 */
const model = tinySpeechModel(1, 9);
afterAll(() => model.dispose());

function audio(seconds: number, seed: number, rate = 16000): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from(
    { length: Math.round(seconds * rate) },
    (_, i) => 0.3 * Math.sin(i * 0.05 * (1 + (seed % 3))) + 0.05 * rng.normal(),
  );
}

function chunks(x: Float32Array, n: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < x.length; i += n) out.push(x.slice(i, i + n));
  return out;
}

async function wholeFile(rec: SpeechRecognizer, x: Float32Array, rate = 16000) {
  const s = rec.createStream();
  await s.acceptWaveform(rate, x);
  s.inputFinished();
  await rec.decodeStreams([s]);
  return s.result();
}

describe('transcribe()', () => {
  it('100 ms chunks end with the final result of the whole file', async () => {
    const rec = new SpeechRecognizer(model, { decodingMethod: 'ctc-greedy' });
    const x = audio(2.05, 1);
    const events = await lastValueFrom(
      from(chunks(x, 1600)).pipe(transcribe({ recognizer: rec }), toArray()),
    );
    const whole = await wholeFile(rec, x);
    expect(whole.text.length).toBeGreaterThan(0);
    const last = events.at(-1)!;
    expect(last.type).toBe('final');
    expect(last.text).toBe(whole.text);
    expect(last.end).toBeCloseTo(whole.end, 9);
    // Partials come before the final, each a prefix-in-time of the result.
    expect(events.slice(0, -1).every((e) => e.type === 'partial')).toBe(true);
  });

  it('concurrent pipelines on one recognizer give what each gives alone', async () => {
    const rec = new SpeechRecognizer(model, { decodingMethod: 'transducer-greedy' });
    const inputs = [audio(1.2, 2), audio(0.7, 3), audio(1.5, 4)];
    const alone = await Promise.all(inputs.map((x) => wholeFile(rec, x)));
    const finals = await Promise.all(
      inputs.map((x, i) =>
        lastValueFrom(
          from(chunks(x, [800, 1600, 2400][i]!)).pipe(
            transcribe({ recognizer: rec, partials: false }),
            toArray(),
          ),
        ),
      ),
    );
    finals.forEach((events, i) => {
      expect(events.map((e) => e.type)).toEqual(alone[i]!.text ? ['final'] : []);
      if (alone[i]!.text) expect(events[0]!.text).toBe(alone[i]!.text);
    });
  });

  it('resamples 8 kHz chunks on the way in, as the whole file would be', async () => {
    const rec = new SpeechRecognizer(model, { decodingMethod: 'ctc-greedy' });
    const x = audio(1.5, 5, 8000);
    const chunked: AudioChunk[] = chunks(x, 800).map((samples) => ({ samples, sampleRate: 8000 }));
    const events = await lastValueFrom(from(chunked).pipe(transcribe({ recognizer: rec }), toArray()));
    const whole = await wholeFile(rec, x, 8000);
    expect(events.at(-1)?.text ?? '').toBe(whole.text);
    expect(whole.end).toBeGreaterThan(1.4);
  });

  it('a stream that ends at once gives no events', async () => {
    const rec = new SpeechRecognizer(model);
    const events = await firstValueFrom(
      from([] as AudioChunk[]).pipe(transcribe({ recognizer: rec }), toArray()),
    );
    expect(events).toEqual([]);
  });
});
