import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CharVocabulary, type LexiconState, WordLexicon } from '@rwkv-streams/audio';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { binaryLexiconPath, type LexiconFacts } from './lexicon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cli-lexicon-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('rwkv-streams lexicon', () => {
  const words = join(tmp, 'words.tsv');
  writeFileSync(words, "the\t60\ncat\t30\ncan't\t10\n");
  writeFileSync(join(tmp, 'words.bigrams.tsv.gz'), gzipSync('<s>\t*\t10\n<s>\tthe\t8\nthe\tcat\t25\n'));
  writeFileSync(join(tmp, 'words.trigrams.tsv.gz'), gzipSync('<s> the\tcat\t8\n'));

  it('packs the text files into words.lex beside them, which info then describes', async () => {
    expect(binaryLexiconPath(words)).toBe(join(tmp, 'words.lex'));
    const packed = await runCli('lexicon', 'pack', words, '--json');
    expect(packed.code).toBe(0);
    const facts = JSON.parse(packed.out) as LexiconFacts & { from: LexiconFacts };
    expect(facts).toMatchObject({
      file: join(tmp, 'words.lex'),
      format: 'binary',
      words: 3,
      pairs: 2,
      triples: 1,
    });
    expect(facts.from).toMatchObject({ file: words, format: 'text', words: 3, pairs: 2, triples: 1 });
    const info = await runCli('lexicon', 'info', join(tmp, 'words.lex'), '--json');
    expect(JSON.parse(info.out)).toMatchObject({ format: 'binary', words: 3, pairs: 2, triples: 1 });
    const text = await runCli('lexicon', 'info', words);
    expect(text.out).toMatch(/\(text\): 3 words, 2 pairs, 1 triples/);
  });

  it('writes where it is told, and fails by name on a missing or bad file, writing nothing', async () => {
    const out = join(tmp, 'other.lex');
    expect((await runCli('lexicon', 'pack', words, out)).code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const missing = await runCli('lexicon', 'pack', join(tmp, 'absent.tsv'));
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/absent\.tsv/);
    expect(existsSync(join(tmp, 'absent.lex'))).toBe(false);
    writeFileSync(join(tmp, 'bad.tsv'), 'the\tmany\n');
    const bad = await runCli('lexicon', 'pack', join(tmp, 'bad.tsv'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/bad\.tsv.*line 1/);
    expect(existsSync(join(tmp, 'bad.lex'))).toBe(false);
  });
});

describe('the shipped lexicon', () => {
  const dir = fileURLToPath(new URL('../../../../models/rwkv-speech-en-synth/', import.meta.url));

  it('words.lex holds what words.tsv and its pair and triple files hold: every score the same', () => {
    const text = WordLexicon.fromFile(join(dir, 'words.tsv'));
    const bin = WordLexicon.fromFile(join(dir, 'words.lex'));
    expect([bin.size, bin.bigramPairs, bin.trigramTriples]).toEqual([
      text.size,
      text.bigramPairs,
      text.trigramTriples,
    ]);
    // 400 texts of words drawn from the 300 commonest (so that many pairs and triples are
    // hit), with words outside the lexicon now and then; every step's score compared exactly
    const vocab = new CharVocabulary();
    const lines = ['the cat sat on the mat', 'it was the best of times', 'zzqx of the', "don't stop"];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const common = readFileSync(join(dir, 'words.tsv'), 'utf8').split('\n', 300);
    const words = [...common.map((l) => l.split('\t')[0]!), 'zzqx', 'blorft'];
    for (let i = 0; i < 400; i++) {
      const n = 2 + Math.floor(rand() * 6);
      lines.push(Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!).join(' '));
    }
    for (const line of lines) {
      let a: LexiconState = text.root;
      let b: LexiconState = bin.root;
      for (const id of vocab.encode(line)) {
        const x = text.step(a, id);
        const y = bin.step(b, id);
        expect(y.delta, line).toBe(x.delta);
        a = x.state;
        b = y.state;
      }
      expect(bin.finalize(b), line).toBe(text.finalize(a));
    }
  });
});
