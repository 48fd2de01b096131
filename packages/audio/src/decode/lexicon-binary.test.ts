import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BadInputError, BadMagicError, type RwkvError, TruncatedFileError } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { lexiconScore } from '../../test-support/lexicon-score.js';
import { findLexiconBeside } from './lexicon-beside.js';
import { decodeLexiconRows, encodeLexiconRows, type LexiconRows } from './lexicon-binary.js';
import { CharVocabulary } from './vocabulary.js';
import { WordLexicon } from './word-lexicon.js';

const _vocab = new CharVocabulary();
const tmp = mkdtempSync(join(tmpdir(), 'lexicon-binary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The summed deltas of a text and its final score. */
const score = lexiconScore;

/** A text lexicon with pairs and triples (a word outside the list and a repeated word included). */
function writeTextLexicon(name: string, wordLines: string): string {
  const file = join(tmp, `${name}.tsv`);
  writeFileSync(file, wordLines);
  const pairs = ['<s>\t*\t10', '<s>\tthe\t8', 'the\tcat\t25', "cat\tcan't\t5", 'cat\tthe\t6', 'dog\tthe\t2'];
  writeFileSync(join(tmp, `${name}.bigrams.tsv.gz`), gzipSync(`${pairs.join('\n')}\n`));
  const triples = ['<s> the\tcat\t8', "the cat\tcan't\t5", 'the cat\tthe\t3', 'the cat\tdog\t2'];
  writeFileSync(join(tmp, `${name}.trigrams.tsv.gz`), gzipSync(`${triples.join('\n')}\n`));
  return file;
}

const texts = [
  'the cat',
  "the cat can't",
  'the cat the cat',
  'cat the cat',
  'dog the cat',
  "can't the cat",
  'ca',
  'the',
  '',
];

describe('the binary word lexicon', () => {
  const opts = { scale: 1, oovLogProb: -10, wordBonus: 0 };
  const textFile = writeTextLexicon('w', "the\t60\ncat\t1\ncan't\t10\ncat\t30\n");
  const text = WordLexicon.fromFile(textFile, opts);
  const binFile = join(tmp, 'w.lex');
  text.writeBinary(binFile);

  it('reads back to the same lexicon as its text files: every score the same, with any weights', () => {
    const bin = WordLexicon.fromFile(binFile, opts);
    expect([bin.size, bin.bigramPairs, bin.trigramTriples]).toEqual([3, 4, 3]);
    for (const t of texts) expect(score(bin, t), t).toBe(score(text, t));
    const other = { scale: 0.5, oovLogProb: -20, wordBonus: 1, discount: 0.5 };
    const fromText = WordLexicon.fromFile(textFile, other);
    const fromBin = WordLexicon.fromFile(binFile, other);
    for (const t of texts) expect(score(fromBin, t), t).toBe(score(fromText, t));
    // the pairs and triples can be left out, as with the text files
    expect(WordLexicon.fromFile(binFile, { trigrams: false }).trigramTriples).toBe(0);
    expect(WordLexicon.fromFile(binFile, { bigrams: false }).bigramPairs).toBe(0);
    expect(WordLexicon.fromFile(binFile, { bigrams: false }).trigramTriples).toBe(0);
    // written through a temporary file: none is left beside it, nor after a failed write
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => text.writeBinary(join(tmp, 'no-such-folder', 'w.lex'))).toThrow(/ENOENT/);
    const intoFolder = mkdtempSync(join(tmp, 'target-'));
    expect(() => text.writeBinary(intoFolder)).toThrow(); // renaming a file over a folder fails
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps counts that are not whole numbers exactly, and a lexicon without pairs', () => {
    const file = join(tmp, 'frac.tsv');
    writeFileSync(file, 'the\t6.5\ncat\t0.25\n');
    const a = WordLexicon.fromFile(file, opts);
    const out = join(tmp, 'frac.lex');
    a.writeBinary(out);
    const b = WordLexicon.fromFile(out, opts);
    expect([b.size, b.bigramPairs]).toEqual([2, 0]);
    for (const t of ['the cat', 'cat', 'dog']) expect(score(b, t), t).toBe(score(a, t));
    // a lexicon built from maps writes the same way
    const built = new WordLexicon(new Map([['cat', 3]]));
    writeFileSync(join(tmp, 'built.lex'), built.toBinary());
    expect(WordLexicon.fromFile(join(tmp, 'built.lex')).size).toBe(1);
  });

  it('refuses a damaged file with a typed error naming the file and the part', () => {
    const raw = gunzipSync(readFileSync(binFile));
    const bad = (
      name: string,
      bytes: Uint8Array,
      pattern: RegExp,
      kind: typeof RwkvError = BadInputError,
    ) => {
      const path = join(tmp, name);
      writeFileSync(path, gzipSync(bytes));
      try {
        WordLexicon.fromFile(path);
        expect.unreachable(`${name} was read`);
      } catch (e) {
        expect(e, name).toBeInstanceOf(kind);
        expect((e as BadInputError).file, name).toBe(path);
        expect((e as Error).message, name).toMatch(pattern);
      }
    };
    // cut anywhere: the file ends early, whichever part it cuts
    for (const cut of [3, 12, 20, raw.length - 40, raw.length - 1])
      bad(`cut-${cut}.lex`, raw.subarray(0, cut), /ends early/, TruncatedFileError);
    bad(
      'magic.lex',
      Uint8Array.from([...Buffer.from('rwkvlex9'), ...raw.subarray(8)]),
      /not a binary word lexicon/,
      BadMagicError,
    );
    bad('trailing.lex', Uint8Array.from([...raw, 0]), /1 bytes after the tables/);
    const rows: LexiconRows = {
      words: ['the', 'cat'],
      counts: Float64Array.of(2, 1),
      pairs: {
        rowStart: Int32Array.of(0, 1, 1, 1),
        next: Int32Array.of(1),
        count: Float64Array.of(1),
        total: Float64Array.of(2, Number.NaN, Number.NaN),
      },
    };
    expect(WordLexicon.fromFile(writeRows('ok.lex', rows)).bigramPairs).toBe(1);
    bad(
      'follower.lex',
      encodeLexiconRows({ ...rows, pairs: { ...rows.pairs!, next: Int32Array.of(2) } }),
      /field 'pair followers'.*row 0 names word 2 of 2/,
    );
    bad(
      'count.lex',
      encodeLexiconRows({ ...rows, pairs: { ...rows.pairs!, count: Float64Array.of(0) } }),
      /field 'pair counts'.*count 0 is 0/,
    );
    bad('alphabet.lex', encodeLexiconRows({ ...rows, words: ['the', 'Cat'] }), /'C'|Cat/);
    // gzip around something else; a gzip stream cut short
    bad('other.lex', Buffer.from('the\t1\n'), /not a binary word lexicon/, BadMagicError);
    const cutGzip = join(tmp, 'cutgz.lex');
    writeFileSync(cutGzip, readFileSync(binFile).subarray(0, 30));
    expect(() => WordLexicon.fromFile(cutGzip)).toThrow(/does not unzip/);
  });

  it('decodes what it encodes, field for field', () => {
    const rows = decodeLexiconRows(gunzipSync(text.toBinary()), 'w.lex');
    expect(rows.words).toEqual(['the', 'cat', "can't"]);
    expect(Array.from(rows.counts)).toEqual([60, 30, 10]);
    expect(rows.pairs!.next.length).toBe(4);
    expect(Array.from(rows.pairs!.total.subarray(3))).toEqual([10]); // <s>: the total line's count
    expect(rows.triples!.next.length).toBe(3);
  });

  it('is found beside a model before the text files, which are found alone', () => {
    const dir = mkdtempSync(join(tmp, 'model-'));
    expect(findLexiconBeside(dir)).toBeUndefined();
    writeFileSync(join(dir, 'words.tsv'), 'the\t1\n');
    expect(findLexiconBeside(dir)).toBe(join(dir, 'words.tsv'));
    writeFileSync(join(dir, 'words.lex'), text.toBinary());
    expect(findLexiconBeside(dir)).toBe(join(dir, 'words.lex'));
  });
});

function writeRows(name: string, rows: LexiconRows): string {
  const path = join(tmp, name);
  writeFileSync(path, gzipSync(encodeLexiconRows(rows)));
  return path;
}
