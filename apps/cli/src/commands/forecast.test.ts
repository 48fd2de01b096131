import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRwkvTsWeights, RwkvTsModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ExitCode, main } from '../main.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const ett = join(root, '../shared/data/ett/ETTh1.csv');
const model96 = join(root, 'models/rwkv-ts-etth1-96');

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(['node', 'rwkv-streams', ...args], (s) => {
    out += s;
  });
  return { code, out };
}

describe.skipIf(!existsSync(ett))('rwkv-streams forecast / forecast-eval', () => {
  it('forecast writes history then forecast rows, hourly dates continuing, the model forecast in CSV units', async () => {
    const { code, out } = await run(
      'forecast',
      '--model',
      model96,
      '--csv',
      ett,
      '--horizon',
      '5',
      '--history',
      '3',
    );
    expect(code).toBe(ExitCode.ok);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('date,kind,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT');
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual([
      ...Array(3).fill('history'),
      ...Array(5).fill('forecast'),
    ]);
    expect(lines[3]!.startsWith('2018-06-26 19:00:00,')).toBe(true); // the file's last row
    expect(lines[4]!.startsWith('2018-06-26 20:00:00,')).toBe(true);
    // independently: the raw weights on the raw last 336 rows (the model normalizes each
    // window itself, so the CLI's train-split scaling must give the same forecast)
    const series = await readSeriesCsv(ett);
    const { config, tensors } = loadRwkvTsWeights(join(model96, 'model.pth'), {
      nHead: 2,
      seqLen: 336,
      stride: 8,
    });
    const m = new RwkvTsModel(config, tensors);
    const direct = await m.forecast(series.values.subarray((series.rows - 336) * 7), 1, 7);
    await m.dispose();
    for (let r = 0; r < 5; r++) {
      const got = lines[4 + r]!.split(',').slice(2).map(Number);
      got.forEach((v, c) => {
        expect(Math.abs(v - direct[r * 7 + c]!)).toBeLessThan(1e-3 * (1 + Math.abs(v)));
      });
    }
  });

  it('forecast --json and --out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwkv-forecast-'));
    const file = join(dir, 'f.json');
    const { code } = await run(
      'forecast',
      '--model',
      model96,
      '--data',
      ett,
      '--horizon',
      '4',
      '--json',
      '--out',
      file,
    );
    expect(code).toBe(ExitCode.ok);
    const j = JSON.parse(readFileSync(file, 'utf8')) as {
      horizon: number;
      dates: string[];
      forecast: number[][];
    };
    expect(j.horizon).toBe(4);
    expect(j.dates[3]).toBe('2018-06-26 23:00:00');
    expect(j.forecast.map((r) => r.length)).toEqual([7, 7, 7, 7]);
  });

  it('forecast --plot draws the chart as a PNG; an unknown --channel is a typed error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwkv-forecast-'));
    const png = join(dir, 'f.png');
    const { code } = await run(
      'forecast',
      '--model',
      model96,
      '--csv',
      ett,
      '--horizon',
      '24',
      '--out',
      join(dir, 'f.csv'),
      '--plot',
      png,
      '--channel',
      'OT',
    );
    expect(code).toBe(ExitCode.ok);
    const meta = await sharp(readFileSync(png)).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(900);
    const bad = await run('forecast', '--model', model96, '--csv', ett, '--plot', png, '--channel', 'nope');
    expect(bad.code).toBe(ExitCode.failure);
  });

  it('forecast refuses a horizon beyond the model, a wrong channel count and a missing CSV, as typed errors', async () => {
    expect((await run('forecast', '--model', model96, '--csv', ett, '--horizon', '97')).code).toBe(
      ExitCode.failure,
    );
    const dir = mkdtempSync(join(tmpdir(), 'rwkv-forecast-'));
    const three = join(dir, 'three.csv');
    const rows = ['date,HUFL,HULL,OT'];
    for (let h = 0; h < 24; h++) rows.push(`2020-01-01 ${String(h).padStart(2, '0')}:00:00,1,2,${h}`);
    writeFileSync(three, `${rows.join('\n')}\n`);
    expect((await run('forecast', '--model', model96, '--csv', three)).code).toBe(ExitCode.failure);
    expect((await run('forecast', '--model', model96, '--csv', join(dir, 'none.csv'))).code).toBe(
      ExitCode.failure,
    );
    expect((await run('forecast', '--model', model96)).code).toBe(ExitCode.usage);
  });

  it('forecast-eval --windows 64 --json matches what PyTorch computed at export, per horizon', async () => {
    const { code, out } = await run(
      'forecast-eval',
      '--csv',
      ett,
      '--windows',
      '64',
      '--json',
      '--models',
      ...[96, 192, 336, 720].map((h) => join(root, `models/rwkv-ts-etth1-${h}`)),
    );
    expect(code).toBe(ExitCode.ok);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | string>);
    expect(lines.map((l) => l.horizon)).toEqual([96, 192, 336, 720, 'average']);
    for (const l of lines.slice(0, 4)) {
      const card = JSON.parse(readFileSync(join(String(l.model), 'config.json'), 'utf8')) as {
        first64TestWindowsMse: number;
      };
      expect(l.windows).toBe(64);
      expect(Math.abs(Number(l.mse) - card.first64TestWindowsMse)).toBeLessThan(1e-5);
    }
    const mean = lines.slice(0, 4).reduce((s, l) => s + Number(l.mse), 0) / 4;
    expect(Math.abs(Number(lines[4]!.mse) - mean)).toBeLessThan(1e-12);
  });
});
