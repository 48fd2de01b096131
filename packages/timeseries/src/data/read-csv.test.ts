import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ettHourSplits } from './ett.js';
import { readSeriesCsv } from './read-csv.js';

const dir = mkdtempSync(join(tmpdir(), 'rwkv-ts-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const csv = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const ett = '/work/shared/data/ett/ETTh1.csv'.replace(
  '/work/shared',
  join(import.meta.dirname, '../../../../../shared'),
);

describe('readSeriesCsv', () => {
  it('reads times and channels, forward-filling missing cells', async () => {
    const s = await readSeriesCsv(
      csv(
        'ok.csv',
        'date,a,b\n2020-01-01 00:00:00,1,2\n2020-01-01 01:00:00,,3.5\n2020-01-01 03:00:00,4,NaN\n',
      ),
    );
    expect(s.columns).toEqual(['a', 'b']);
    expect(s.rows).toBe(3);
    expect([...s.values]).toEqual([1, 2, 1, 3.5, 4, 3.5]);
    expect([...s.timestamps!]).toEqual([
      Date.UTC(2020, 0, 1, 0),
      Date.UTC(2020, 0, 1, 1),
      Date.UTC(2020, 0, 1, 3),
    ]);
    const picked = await readSeriesCsv(join(dir, 'ok.csv'), { columns: ['b'] });
    expect([...picked.values]).toEqual([2, 3.5, 3.5]);
  });

  it('names the row and column of every problem', async () => {
    await expect(readSeriesCsv(csv('word.csv', 'date,a\n2020-01-01,1\n2020-01-02,abc\n'))).rejects.toThrow(
      /row 3, column 'a': 'abc' is not a number/,
    );
    await expect(readSeriesCsv(csv('order.csv', 'date,a\n2020-01-02,1\n2020-01-01,2\n'))).rejects.toThrow(
      /row 3, column 'date': .* does not come after/,
    );
    await expect(readSeriesCsv(csv('dup.csv', 'date,a\n2020-01-02,1\n2020-01-02,2\n'))).rejects.toThrow(
      MalformedFileError,
    );
    await expect(readSeriesCsv(csv('time.csv', 'date,a\nyesterday,1\n'))).rejects.toThrow(
      /'yesterday' is not a time/,
    );
    await expect(readSeriesCsv(csv('ragged.csv', 'date,a,b\n2020-01-01,1\n'))).rejects.toThrow(
      /row 2 has 2 cells/,
    );
    await expect(readSeriesCsv(csv('first.csv', 'date,a\n2020-01-01,\n'))).rejects.toThrow(
      /nothing to fill it from/,
    );
    await expect(readSeriesCsv(join(dir, 'ok.csv'), { missing: 'error' })).rejects.toThrow(
      /row 3, column 'a': missing value/,
    );
    await expect(readSeriesCsv(join(dir, 'ok.csv'), { columns: ['c'] })).rejects.toThrow(/no column 'c'/);
    await expect(readSeriesCsv(join(dir, 'nope.csv'))).rejects.toThrow(FileNotFoundError);
  });

  it.skipIf(!existsSync(ett))('reads ETTh1 and cuts the standard splits', async () => {
    const s = await readSeriesCsv(ett);
    expect(s.rows).toBe(17420);
    expect(s.columns).toEqual(['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']);
    const splits = ettHourSplits(s, 336);
    expect([splits.train.start, splits.train.end]).toEqual([0, 8640]);
    expect([splits.val.start, splits.val.end]).toEqual([8640 - 336, 11520]);
    expect([splits.test.start, splits.test.end]).toEqual([11520 - 336, 14400]);
    // Standardized training rows have mean ~0 and std ~1 per channel.
    const C = 7;
    for (let c = 0; c < C; c++) {
      let m = 0;
      let q = 0;
      for (let r = 0; r < 8640; r++) {
        const v = splits.train.values[r * C + c]!;
        m += v;
        q += v * v;
      }
      expect(Math.abs(m / 8640)).toBeLessThan(1e-4);
      expect(Math.abs(q / 8640 - 1)).toBeLessThan(1e-3);
    }
  });
});
