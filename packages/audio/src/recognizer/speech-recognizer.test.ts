import { BadInputError, hostTensor, SeededRandom } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { randomSpeechWeights } from '../model/random-speech-weights.js';
import { SpeechModel } from '../model/speech-model.js';
import { FloatQueue } from './frame-queue.js';
import type { DecodingMethod } from './recognizer-options.js';
import type { RecognizerStream } from './recognizer-stream.js';
import { SpeechRecognizer } from './speech-recognizer.js';

/**
 * The recognizer over a small random speech model (real graphs on the CPU backend): the
 * same audio in any chunking gives the same result, streams decoded together in one
 * batch give what each gives alone (no cross-talk), endpoints and resets behave.
 */
const { config, tensors } = randomSpeechWeights(
  { encoderLayers: 2, encoderDim: 64, predictorLayers: 1, predictorDim: 64, joinerDim: 32, headSize: 32 },
  5,
);
const model = SpeechModel.create(config, tensors);
afterAll(() => model.dispose());
const F = config.featureDim;

function features(frames: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: frames * F }, () => rng.normal());
}

async function feed(rec: SpeechRecognizer, s: RecognizerStream, x: Float32Array, chunkFrames: number[]) {
  let at = 0;
  let i = 0;
  while (at < x.length) {
    const n = chunkFrames[i++ % chunkFrames.length]! * F;
    s.acceptFeatures(x.slice(at, at + n));
    at += n;
    await rec.decodeStreams([s]);
  }
  s.inputFinished();
  await rec.decodeStreams([s]);
}

describe('SpeechRecognizer', () => {
  const methods: DecodingMethod[] = ['ctc-greedy', 'ctc-beam', 'transducer-greedy', 'transducer-beam'];
  for (const method of methods) {
    it(`${method}: any chunking of the frames gives the same result`, async () => {
      const rec = new SpeechRecognizer(model, { decodingMethod: method, beam: 3 });
      const x = features(97, 1);
      const whole = rec.createStream();
      await feed(rec, whole, x, [97]);
      const chunked = rec.createStream();
      await feed(rec, chunked, x, [1, 7, 3, 10, 2]);
      expect(chunked.result()).toEqual(whole.result());
      expect(whole.result().end).toBeCloseTo(25 * 0.04, 9); // 97 frames -> 25 steps of 40 ms
      expect(whole.result().tokens.length).toBeGreaterThan(0);
    });
  }

  it("without a beam, each search keeps its own default width: the transducer's 4, CTC's 8", async () => {
    const text = async (method: DecodingMethod, beam: number | undefined, x: Float32Array) => {
      const rec = new SpeechRecognizer(model, { decodingMethod: method, ...(beam ? { beam } : {}) });
      const s = rec.createStream();
      await feed(rec, s, x, [x.length / F]);
      return s.result().tokens.map((t) => t.id);
    };
    for (const [method, width, other] of [
      ['ctc-beam', 8, 4],
      ['transducer-beam', 4, 8],
    ] as const) {
      // an input on which the two widths read differently, so the default is told apart
      let x: Float32Array | undefined;
      for (let seed = 10; seed < 60 && !x; seed++) {
        const y = features(160, seed);
        if (JSON.stringify(await text(method, width, y)) !== JSON.stringify(await text(method, other, y)))
          x = y;
      }
      expect(x, `${method}: no input where beams ${width} and ${other} differ`).toBeDefined();
      expect(await text(method, undefined, x!)).toEqual(await text(method, width, x!));
    }
  });

  it('streams decoded together in one batch give what each gives alone', async () => {
    const rec = new SpeechRecognizer(model, { decodingMethod: 'transducer-greedy' });
    const inputs = [features(64, 2), features(40, 3), features(88, 4)];
    const alone = [];
    for (const x of inputs) {
      const s = rec.createStream();
      await feed(rec, s, x, [64]);
      alone.push(s.result());
    }
    // Interleaved: chunks of different sizes to each stream, one batched decode per round.
    const streams = inputs.map(() => rec.createStream());
    const pos = inputs.map(() => 0);
    const sizes = [5, 12, 9];
    while (pos.some((p, i) => p < inputs[i]!.length)) {
      streams.forEach((s, i) => {
        if (pos[i]! >= inputs[i]!.length) return;
        const n = sizes[i]! * F;
        s.acceptFeatures(inputs[i]!.slice(pos[i], pos[i]! + n));
        pos[i]! += n;
        if (pos[i]! >= inputs[i]!.length) s.inputFinished();
      });
      await rec.decodeStreams(streams);
    }
    streams.forEach((s, i) => {
      expect(s.result()).toEqual(alone[i]);
    });
  });

  it('a CTC head of two frames a step, each a copy of the one-frame head, reads the same words in 20 ms frames', async () => {
    // K = 2: the head's rows twice; greedy CTC collapses a symbol repeated over a step's two
    // 20 ms frames, so the text must equal the one-frame model's, alone, chunked or batched, and
    // the times come in 20 ms frames: a word starts where it did and ends one 20 ms frame
    // after its last symbol's first frame (one 40 ms step after it with one frame a step)
    const twice = (name: string, shape: number[]) => {
      const t = tensors.get(name)!.data as Float32Array;
      const both = new Float32Array(2 * t.length);
      both.set(t);
      both.set(t, t.length);
      return hostTensor(shape, both);
    };
    const V = config.vocab;
    const d = config.encoder.nEmbd;
    const wide = SpeechModel.create(
      { ...config, ctcFrames: 2 },
      new Map([
        ...tensors,
        ['ctc.weight', twice('ctc.weight', [2 * V, d])],
        ['ctc.bias', twice('ctc.bias', [2 * V])],
      ]),
    );
    try {
      expect([wide.ctcFrames, wide.ctcFrameSeconds]).toEqual([2, 0.02]);
      const one = new SpeechRecognizer(model, { decodingMethod: 'ctc-greedy' });
      const two = new SpeechRecognizer(wide, { decodingMethod: 'ctc-greedy' });
      const inputs = [features(97, 11), features(60, 12)];
      const read = async (rec: SpeechRecognizer, x: Float32Array, chunks: number[]) => {
        const s = rec.createStream();
        await feed(rec, s, x, chunks);
        const { text, words, start, end } = s.result();
        return { text, words, start, end, frames: s.result().tokens.map((t) => t.frame) };
      };
      for (const x of inputs) {
        const a = await read(one, x, [97]);
        const b = await read(two, x, [1, 7, 3, 10, 2]);
        expect(a.text.length).toBeGreaterThan(0);
        expect(b.text).toBe(a.text);
        expect([b.start, b.end]).toEqual([a.start, a.end]);
        expect(b.words.map((w) => w.word)).toEqual(a.words.map((w) => w.word));
        b.words.forEach((w, i) => {
          expect(w.start).toBeCloseTo(a.words[i]!.start, 9);
          expect(w.end).toBeCloseTo(a.words[i]!.end - 0.02, 9);
        });
        // every symbol's first frame is the first of its step's two frames
        expect(b.frames).toEqual(a.frames.map((f) => 2 * f));
      }
      // batched: both streams in each decode call
      const streams = inputs.map(() => two.createStream());
      streams.forEach((s, i) => {
        s.acceptFeatures(inputs[i]!);
        s.inputFinished();
      });
      await two.decodeStreams(streams);
      for (const [i, s] of streams.entries())
        expect(s.result().text).toBe((await read(one, inputs[i]!, [97])).text);
    } finally {
      await wide.dispose();
    }
  });

  it('endpointing: an utterance-length rule fires, then reset starts a new utterance', async () => {
    const rec = new SpeechRecognizer(model, {
      decodingMethod: 'ctc-greedy',
      chunkSteps: 1,
      endpoint: {
        rule1: { mustContainNonSilence: false, minTrailingSilence: 2.4, minUtteranceLength: 0 },
        rule2: { mustContainNonSilence: true, minTrailingSilence: 1.2, minUtteranceLength: 0 },
        rule3: { mustContainNonSilence: false, minTrailingSilence: 0, minUtteranceLength: 0.4 },
      },
    });
    const s = rec.createStream();
    s.acceptFeatures(features(36, 6)); // 9 steps = 0.36 s
    await s.decode();
    expect(s.isEndpoint()).toBe(false);
    s.acceptFeatures(features(4, 7));
    await s.decode();
    expect(s.isEndpoint()).toBe(true);
    s.reset();
    expect(s.isEndpoint()).toBe(false);
    expect(s.result().start).toBeCloseTo(0.4, 9);
    expect(s.result().tokens).toEqual([]);
    // Endpointing is off unless asked for.
    const quiet = new SpeechRecognizer(model, { decodingMethod: 'ctc-greedy' }).createStream();
    quiet.acceptFeatures(features(40, 6));
    await quiet.decode();
    expect(quiet.isEndpoint()).toBe(false);
  });

  it("endpointSilence 'vad': the voice-activity head's non-speech steps are the trailing silence", async () => {
    // the random model plus a head that always says speech (bias +20) or never (bias -20)
    const withHead = (bias: number) =>
      SpeechModel.create(
        config,
        new Map([
          ...tensors,
          ['vad.weight', hostTensor([1, config.encoder.nEmbd], new Float32Array(config.encoder.nEmbd))],
          ['vad.bias', hostTensor([1], Float32Array.of(bias))],
        ]),
      );
    const endpoint = {
      rule1: { mustContainNonSilence: false, minTrailingSilence: 0.6, minUtteranceLength: 0 },
      rule2: { mustContainNonSilence: true, minTrailingSilence: 0.6, minUtteranceLength: 0 },
      rule3: { mustContainNonSilence: false, minTrailingSilence: 0, minUtteranceLength: 20 },
    };
    const x = features(80, 9); // 20 steps = 0.8 s
    const verdicts: Record<string, boolean> = {};
    for (const [name, bias] of [
      ['speech', 20],
      ['silence', -20],
    ] as const) {
      const m = withHead(bias);
      for (const silence of ['auto', 'vad', 'blanks'] as const) {
        const rec = new SpeechRecognizer(m, {
          decodingMethod: 'ctc-greedy',
          endpoint,
          endpointSilence: silence,
        });
        const s = rec.createStream();
        await feed(rec, s, x, [8]);
        verdicts[`${name}/${silence}`] = s.isEndpoint();
      }
      await m.dispose();
    }
    // the head decides in 'auto' and 'vad'; 'blanks' ignores it (the same verdict either way)
    expect(verdicts['speech/vad']).toBe(false);
    expect(verdicts['silence/vad']).toBe(true);
    expect(verdicts['speech/auto']).toBe(false);
    expect(verdicts['silence/auto']).toBe(true);
    expect(verdicts['speech/blanks']).toBe(verdicts['silence/blanks']);
    expect(() => new SpeechRecognizer(model, { endpointSilence: 'vad' }).createStream()).toThrow(
      /voice-activity head/,
    );
  });

  it('bad input is a typed error; hotwords are normalized to the alphabet', () => {
    const rec = new SpeechRecognizer(model, { decodingMethod: 'ctc-beam', hotwords: ['Hello, World!', ''] });
    const s = rec.createStream();
    expect(() => s.acceptFeatures(new Float32Array(F + 1))).toThrow(BadInputError);
    s.inputFinished();
    expect(() => s.acceptFeatures(new Float32Array(F))).toThrow(/finished/);
    expect(() =>
      new SpeechRecognizer(model, { decodingMethod: 'nope' as DecodingMethod }).createStream(),
    ).toThrow(/unknown decoding method/);
  });
});

describe('FloatQueue', () => {
  it('keeps values in order across growth and compaction', () => {
    const q = new FloatQueue();
    const all: number[] = [];
    let next = 0;
    const taken: number[] = [];
    for (let round = 0; round < 50; round++) {
      const add = Array.from({ length: 37 * (round % 5) + 3 }, () => next++);
      q.push(add);
      all.push(...add);
      taken.push(...q.take(Math.floor(q.length / 2)));
    }
    taken.push(...q.take(q.length));
    expect(taken).toEqual(all);
  });
});
