import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BadInputError,
  FileNotFoundError,
  MalformedFileError,
  type RwkvError,
  ShapeMismatchError,
} from '@rwkv-streams/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { readSeriesCsv, type Series } from '../data/read-csv.js';
import { anomalyScores } from '../operators/anomaly-scores.js';
import { liveFeed } from '../operators/live-feed.js';
import { rollingForecast } from '../operators/rolling-forecast.js';
import { evaluateEttTest, forecastSeries, loadForecastModel } from './model-dir.js';

/**
 * Every bad input the RWKV-TS issue lists, through every entry point that takes it, is a
 * typed error (a core RwkvError subclass) that names the row / column / field: non-numeric
 * cells, too short a history, a wrong channel count, unsorted timestamps; plus the model
 * folder's own failures. The shipped ETTh1 96-hour model (in the repository) is the model.
 */
const dir = mkdtempSync(join(tmpdir(), 'rwkv-ts-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const modelDir = fileURLToPath(new URL('../../../../models/rwkv-ts-etth1-96/', import.meta.url));
const loaded = loadForecastModel(modelDir);
afterAll(() => loaded.model.dispose());
const COLS = ['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT'];
const hourly = (rows: number, columns = COLS): Series => ({
  columns,
  rows,
  timestamps: Float64Array.from({ length: rows }, (_, r) => Date.UTC(2020, 0, 1) + r * 3600_000),
  values: Float32Array.from(
    { length: rows * columns.length },
    (_, i) => Math.sin(i / 13) + (i % columns.length),
  ),
});

async function rejects(p: Promise<unknown>, type: new (...a: never[]) => RwkvError, message: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).toMatch(message);
}

describe('typed errors for bad inputs', () => {
  it('non-numeric cells: MalformedFileError naming row and column', async () => {
    const p = file('word.csv', 'date,HUFL,OT\n2020-01-01 00:00:00,1,2\n2020-01-01 01:00:00,1,x7\n');
    await rejects(readSeriesCsv(p), MalformedFileError, /row 3, column 'OT': 'x7' is not a number/);
  });

  it('unsorted or repeated timestamps: MalformedFileError naming row and column', async () => {
    const back = file('back.csv', 'date,a\n2020-01-01 02:00:00,1\n2020-01-01 01:00:00,2\n');
    await rejects(readSeriesCsv(back), MalformedFileError, /row 3, column 'date': .*does not come after/);
    const same = file('same.csv', 'date,a\n2020-01-01 02:00:00,1\n2020-01-01 02:00:00,2\n');
    await rejects(readSeriesCsv(same), MalformedFileError, /row 3, column 'date'/);
    // on a stream: the observation's time going backwards
    const feed = liveFeed<string>();
    const out = lastValueFrom(feed.source.pipe(rollingForecast({ model: loaded.model, channels: 7 })));
    feed.push({ key: 's', timestamp: 10, values: new Array(7).fill(1) });
    feed.push({ key: 's', timestamp: 9, values: new Array(7).fill(1) });
    await rejects(out, BadInputError, /series 's': time 9 does not come after 10/);
  });

  it('anomaly scores refuse time going backwards and a wrong channel count', async () => {
    const f1 = liveFeed<string>();
    const a = lastValueFrom(f1.source.pipe(anomalyScores({ model: loaded.model, channels: 7 }), toArray()));
    f1.push({ key: 'k', timestamp: 2, values: new Array(7).fill(0) });
    f1.push({ key: 'k', timestamp: 1, values: new Array(7).fill(0) });
    await rejects(a, BadInputError, /does not come after/);
    const f2 = liveFeed<string>();
    const b = lastValueFrom(f2.source.pipe(anomalyScores({ model: loaded.model, channels: 7 }), toArray()));
    f2.push({ key: 'k', timestamp: 1, values: [1, 2, 3] });
    await rejects(b, ShapeMismatchError, /3 values, expected 7/);
  });

  it('too short a history: BadInputError saying how many rows are needed', async () => {
    await rejects(forecastSeries(loaded, hourly(335)), BadInputError, /335 rows, the model looks back 336/);
    await rejects(evaluateEttTest(loaded, hourly(2000)), BadInputError, /needs 14400 hourly rows/);
    // a stream emits nothing until the window is full (no error, no forecast)
    const feed = liveFeed<string>();
    const got = lastValueFrom(
      feed.source.pipe(rollingForecast({ model: loaded.model, channels: 7 }), toArray()),
    );
    for (let t = 0; t < 335; t++) feed.push({ key: 's', timestamp: t, values: new Array(7).fill(t % 5) });
    feed.end();
    expect(await got).toEqual([]);
  });

  it('wrong channel count: ShapeMismatchError naming the columns', async () => {
    await rejects(
      forecastSeries(loaded, hourly(400, ['HUFL', 'OT'])),
      ShapeMismatchError,
      /2 columns \(HUFL, OT\).*7/,
    );
    const renamed = hourly(400, [...COLS.slice(0, 6), 'temp']);
    await rejects(forecastSeries(loaded, renamed), ShapeMismatchError, /field 'columns'/);
    await rejects(
      evaluateEttTest(loaded, hourly(14400, ['OT'])),
      ShapeMismatchError,
      /1 columns, the model 7/,
    );
    const feed = liveFeed<string>();
    const out = lastValueFrom(feed.source.pipe(rollingForecast({ model: loaded.model, channels: 7 })));
    feed.push({ key: 'x', timestamp: 0, values: [1, 2] });
    await rejects(out, ShapeMismatchError, /'x' has 2 values, expected 7/);
  });

  it('a horizon beyond the model: BadInputError; the forecast itself in the series units', async () => {
    await rejects(forecastSeries(loaded, hourly(400), 97), BadInputError, /field 'horizon'.*1 to 96/);
    await rejects(forecastSeries(loaded, hourly(400), 0), BadInputError, /horizon 0/);
    const f = await forecastSeries(loaded, hourly(400), 3);
    expect(f.values).toHaveLength(21);
    expect(f.timestamps![0]).toBe(Date.UTC(2020, 0, 1) + 400 * 3600_000);
  });

  it('model folders: a missing file or a config without sizes is a typed error naming it', () => {
    expect(() => loadForecastModel(join(dir, 'none'))).toThrow(FileNotFoundError);
    for (const [name, text, err] of [
      ['notjson', '{', /not JSON/],
      ['nosizes', JSON.stringify({ columns: ['a'], mean: [0], std: [1] }), /field 'seqLen'/],
      [
        'nostats',
        JSON.stringify({
          seqLen: 336,
          predLen: 96,
          stride: 8,
          nHead: 2,
          columns: ['a', 'b'],
          mean: [0],
          std: [1, 1],
        }),
        /field 'mean'/,
      ],
    ] as const) {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'config.json'), text);
      writeFileSync(join(d, 'model.pth'), '');
      expect(() => loadForecastModel(d)).toThrow(MalformedFileError);
      expect(() => loadForecastModel(d)).toThrow(err);
    }
  });
});
