import { describe, expect, it } from 'vitest';
import { forEachTsvLine } from './tsv-lines.js';

describe('forEachTsvLine', () => {
  it('gives each non-blank line its columns, or undefined with its number and text when the count is wrong', () => {
    const seen: [string[] | undefined, number, string][] = [];
    forEachTsvLine('a\t1\n\n  \nb\t2\tx\nc\n\td\ne\t3', 2, (cols, n, raw) => seen.push([cols, n, raw()]));
    expect(seen).toEqual([
      [['a', '1'], 1, 'a\t1'],
      [undefined, 4, 'b\t2\tx'],
      [undefined, 5, 'c'],
      [['', 'd'], 6, '\td'],
      [['e', '3'], 7, 'e\t3'],
    ]);
  });

  it('keeps a carriage return in the last column (Number() reads past it)', () => {
    const cols: string[][] = [];
    forEachTsvLine('the\t60\r\ncat\t30\r\n', 2, (c) => cols.push(c!));
    expect(cols).toEqual([
      ['the', '60\r'],
      ['cat', '30\r'],
    ]);
    expect(Number(cols[0]![1])).toBe(60);
  });
});
