/**
 * Where a model folder keeps its word lexicon: the binary form `words.lex` when there (it
 * loads several times faster), else the text `words.tsv` (with its pair and triple files).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The lexicon files a model folder may hold, in the order they are preferred. */
export const LEXICON_FILE_NAMES = ['words.lex', 'words.tsv'] as const;

/** The word lexicon in `dir` (`words.lex`, else `words.tsv`), or undefined when it has none. */
export function findLexiconBeside(dir: string): string | undefined {
  for (const name of LEXICON_FILE_NAMES) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}
