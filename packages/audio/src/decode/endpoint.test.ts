import { BadInputError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ENDPOINT_CONFIG, endpointConfig, isEndpoint } from './endpoint.js';
import { CharVocabulary, normalizeText } from './vocabulary.js';
import { timedWords } from './words.js';

describe('endpoint rules (sherpa-onnx meaning and defaults)', () => {
  const c = DEFAULT_ENDPOINT_CONFIG;
  it('rule 1: 2.4 s of silence ends even an utterance with nothing said', () => {
    expect(isEndpoint(c, 2.39, 2.39)).toBe(false);
    expect(isEndpoint(c, 2.4, 2.4)).toBe(true);
  });
  it('rule 2: 1.2 s of silence after speech', () => {
    expect(isEndpoint(c, 3.0, 1.19)).toBe(false);
    expect(isEndpoint(c, 3.0, 1.2)).toBe(true);
    // Silence only (nothing decoded): rule 2 does not apply.
    expect(isEndpoint(c, 1.2, 1.2)).toBe(false);
  });
  it('rule 3: 20 s of utterance, whatever the silence', () => {
    expect(isEndpoint(c, 19.9, 0)).toBe(false);
    expect(isEndpoint(c, 20, 0)).toBe(true);
  });
  it('overrides merge into the defaults; bad values are typed errors naming the field', () => {
    const custom = endpointConfig({ rule2: { minTrailingSilence: 0.5 } });
    expect(isEndpoint(custom, 3.0, 0.5)).toBe(true);
    expect(custom.rule1).toEqual(c.rule1);
    expect(() => endpointConfig({ rule3: { minUtteranceLength: -1 } })).toThrow(BadInputError);
    expect(() => endpointConfig({ rule1: { minTrailingSilence: Number.NaN } })).toThrow(
      /rule1.minTrailingSilence/,
    );
  });
});

describe('characters and words', () => {
  const vocab = new CharVocabulary();
  it('encodes and decodes the 29-symbol alphabet; other characters are typed errors', () => {
    expect(vocab.size).toBe(29);
    expect(vocab.decode(vocab.encode("don't stop"))).toBe("don't stop");
    expect(() => vocab.encode('a1')).toThrow(/offset 1/);
  });
  it('normalizes text to the alphabet', () => {
    expect(normalizeText('  Café, “Naïve” — it’s 2 GO!  ')).toBe("cafe naive it's go");
  });
  it('times words from their symbols frames', () => {
    const tokens = vocab.encode('hi yo').map((id, i) => ({ id, frame: [2, 3, 5, 9, 10][i]! }));
    expect(timedWords(tokens, vocab, 0.04)).toEqual([
      { word: 'hi', start: 0.08, end: 0.16 },
      { word: 'yo', start: 0.36, end: 0.44 },
    ]);
  });
});
