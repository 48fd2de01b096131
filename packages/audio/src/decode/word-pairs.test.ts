import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BadInputError } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readBigramFile, WordPairCounts, WordPairScores } from './word-pairs.js';

const tmp = mkdtempSync(join(tmpdir(), 'pairs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('WordPairCounts', () => {
  const words = ['the', 'cat', 'sat', 'mat'];
  const ids = new Map(words.map((w, i) => [w, i]));
  const unigramCounts = [50, 20, 20, 10];
  const unigramLog = Float64Array.from(unigramCounts, (c) => Math.log(c / 100));
  const text = [
    '<s>\t*\t10',
    '<s>\tthe\t6',
    'the\tmat\t3',
    'the\tcat\t4',
    'the\tdog\t9', // an unknown follower: skipped
    'dog\tsat\t2', // an unknown history: skipped
    'cat\tsat\t5',
    'the\tcat\t7', // the same pair again: the later count
    'sat\tdog\t2', // a known history whose only follower is unknown: a row without pairs
    '',
  ].join('\n');
  const file = join(tmp, 'w.bigrams.tsv.gz');
  writeFileSync(file, gzipSync(text));

  it('reads a file straight into rows of ids, as the maps of readBigramFile give', () => {
    const fromFile = WordPairCounts.readFile(file, ids, words.length, unigramCounts);
    const fromMaps = WordPairCounts.build(readBigramFile(file), ids, words.length, unigramCounts);
    expect(fromFile.pairs).toBe(4);
    expect(fromMaps.pairs).toBe(4);
    const a = fromFile.logProbs(0.75, unigramLog, String);
    const b = fromMaps.logProbs(0.75, unigramLog, String);
    const row = (w: string) => WordPairScores.row(w === '<s>' ? -2 : ids.get(w)!, words.length);
    for (const v of ['<s>', ...words])
      for (let w = 0; w < words.length; w++)
        expect(a.logProb(row(v), w, unigramLog[w]!)).toBe(b.logProb(row(v), w, unigramLog[w]!));
    // the later count of a repeated pair; the unigram total of a history without a total line
    const lambda = 1 - (7 - 0.75 + (3 - 0.75)) / 50;
    expect(a.logProb(row('the'), 1, unigramLog[1]!)).toBeCloseTo(
      Math.log((7 - 0.75) / 50 + lambda * 0.2),
      12,
    );
    expect(a.logProb(row('the'), 2, unigramLog[2]!)).toBeCloseTo(Math.log(lambda) + unigramLog[2]!, 12);
    // 'sat' has a row without pairs (backoff weight 1); 'mat' has none (undefined: the unigram)
    expect(a.logProb(row('sat'), 0, unigramLog[0]!)).toBe(unigramLog[0]);
    expect(a.logProb(row('mat'), 0, unigramLog[0]!)).toBeUndefined();
  });

  it('names the file and history of a missing total, and the line of a bad one', () => {
    const noStart = join(tmp, 'nostart.bigrams.tsv.gz');
    writeFileSync(noStart, gzipSync('<s>\tthe\t6\n'));
    expect(() => WordPairCounts.readFile(noStart, ids, words.length, unigramCounts)).toThrow(
      /'<s>' has no total/,
    );
    const bad = join(tmp, 'bad.bigrams.tsv.gz');
    writeFileSync(bad, gzipSync('the\tcat\t3\nthe\tcat\t-1\n'));
    expect(() => WordPairCounts.readFile(bad, ids, words.length, unigramCounts)).toThrow(/line 2/);
    const tooMany = join(tmp, 'many.bigrams.tsv.gz');
    writeFileSync(tooMany, gzipSync('mat\tthe\t30\n'));
    const counts = WordPairCounts.readFile(tooMany, ids, words.length, unigramCounts);
    expect(() => counts.logProbs(0.75, unigramLog, (r) => words[r]!)).toThrow(/after 'mat'/);
    expect(() => counts.logProbs(1, unigramLog, String)).toThrow(BadInputError);
  });
});
