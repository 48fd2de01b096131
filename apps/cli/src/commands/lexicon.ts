import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { looksLikeBinaryLexicon, WordLexicon } from '@rwkv-streams/audio';
import type { Command } from 'commander';

/** What `lexicon pack` and `lexicon info` print with --json. */
export interface LexiconFacts {
  readonly file: string;
  readonly format: 'binary' | 'text';
  readonly words: number;
  readonly pairs: number;
  readonly triples: number;
  /** Milliseconds to read it (`info`: the file given; `pack`: the text files). */
  readonly loadMs: number;
}

/** Which form a lexicon file is in, by its first bytes (as WordLexicon.fromFile tells them apart). */
function formatOf(path: string): 'binary' | 'text' {
  const head = new Uint8Array(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return looksLikeBinaryLexicon(head) ? 'binary' : 'text';
}

function facts(file: string, lexicon: WordLexicon, loadMs: number, format: 'binary' | 'text'): LexiconFacts {
  return {
    file,
    format,
    words: lexicon.size,
    pairs: lexicon.bigramPairs,
    triples: lexicon.trigramTriples,
    loadMs: Math.round(loadMs),
  };
}

function timedLoad(path: string): { lexicon: WordLexicon; ms: number } {
  const t0 = performance.now();
  const lexicon = WordLexicon.fromFile(path);
  return { lexicon, ms: performance.now() - t0 };
}

/** The binary lexicon's name beside a text one: `words.tsv` -> `words.lex`. */
export function binaryLexiconPath(textPath: string): string {
  return `${textPath.replace(/\.tsv$/, '')}.lex`;
}

/**
 * `rwkv-streams lexicon pack|info`: writes the binary form of a word lexicon (its words,
 * pairs and triples, read from `words.tsv` and the files beside it) that loads several times
 * faster, and says what a lexicon file holds.
 */
export function addLexiconCommand(program: Command, out: (text: string) => void): void {
  const lexicon = program
    .command('lexicon')
    .description(
      "the speech beam searches' word lexicon: pack its text files into the binary form, or describe one",
    );
  lexicon
    .command('pack')
    .description(
      'read words.tsv (with words.bigrams.tsv.gz and words.trigrams.tsv.gz beside it) and write the binary form',
    )
    .argument('<words.tsv>', 'the text lexicon (word<TAB>count lines)')
    .argument('[out]', 'the binary file to write (default: the same name ending in .lex)')
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  rwkv-streams lexicon pack models/rwkv-speech-en-synth/words.tsv   # writes words.lex beside it',
    )
    .action((input: string, output: string | undefined, flags: { json?: boolean }) => {
      const target = output ?? binaryLexiconPath(input);
      const { lexicon: text, ms } = timedLoad(input);
      text.writeBinary(target);
      // read back: what was written must give the same lexicon
      const { lexicon: back, ms: backMs } = timedLoad(target);
      if (
        back.size !== text.size ||
        back.bigramPairs !== text.bigramPairs ||
        back.trigramTriples !== text.trigramTriples
      )
        throw new Error(`the written lexicon ${target} reads back differently from ${input}`);
      const written = facts(target, back, backMs, 'binary');
      if (flags.json)
        out(`${JSON.stringify({ ...written, from: facts(input, text, ms, formatOf(input)) })}\n`);
      else
        out(
          `${target}: ${written.words} words, ${written.pairs} pairs, ${written.triples} triples; ` +
            `${(statSync(target).size / 1e6).toFixed(2)} MB, read in ${written.loadMs} ms (the text files: ${Math.round(ms)} ms)\n`,
        );
    });
  lexicon
    .command('info')
    .description('read a word lexicon (binary or text) and print what it holds and how long it took to read')
    .argument('<file>', 'words.lex or words.tsv')
    .option('--json', 'print it as JSON')
    .action((file: string, flags: { json?: boolean }) => {
      const { lexicon: lex, ms } = timedLoad(file); // a missing or bad file fails here, by name
      const f = facts(file, lex, ms, formatOf(file));
      out(
        flags.json
          ? `${JSON.stringify(f)}\n`
          : `${file} (${f.format}): ${f.words} words, ${f.pairs} pairs, ${f.triples} triples; read in ${f.loadMs} ms\n`,
      );
    });
}
