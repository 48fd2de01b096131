import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ettHourSplits } from '../data/ett.js';
import { readSeriesCsv } from '../data/read-csv.js';
import { backtest } from '../forecast/forecast.js';
import { loadRwkvTsWeights } from '../model/load-rwkv-ts.js';
import { RwkvTsModel } from '../model/rwkv-ts-model.js';

/**
 * The shipped ETTh1 model (models/rwkv-ts-etth1-96, trained by
 * training/timeseries/train_etth1.py) through rwkv-streams on the first 64 test windows of
 * ETTh1 (all 7 channels, standardized): the MSE PyTorch computed at export, within 1e-5.
 */
const modelDir = fileURLToPath(new URL('../../../../models/rwkv-ts-etth1-96/', import.meta.url));
const ett = join(import.meta.dirname, '../../../../../shared/data/ett/ETTh1.csv');

describe('the shipped RWKV-TS ETTh1 model', () => {
  it.skipIf(!existsSync(ett))('reproduces PyTorch on the first 64 test windows', async () => {
    const card = JSON.parse(readFileSync(`${modelDir}config.json`, 'utf8')) as {
      first64TestWindowsMse: number;
    };
    const { config, tensors } = loadRwkvTsWeights(`${modelDir}model.pth`, {
      nHead: 2,
      seqLen: 336,
      stride: 8,
    });
    expect(config).toMatchObject({ predLen: 96, dModel: 128, nLayer: 2, patchNum: 42 });
    const { test } = ettHourSplits(await readSeriesCsv(ett), 336);
    const rows = 64 + 336 + 96 - 1;
    const model = new RwkvTsModel(config, tensors);
    const r = await backtest(model, test.values.subarray(0, rows * 7), 7, { batch: 16 });
    console.log(
      `ETTh1 first 64 test windows: MSE ${r.mse.toFixed(6)} (PyTorch ${card.first64TestWindowsMse.toFixed(6)})`,
    );
    expect(r.windows).toBe(64);
    expect(Math.abs(r.mse - card.first64TestWindowsMse)).toBeLessThan(1e-5);
    await model.dispose();
  });
});
