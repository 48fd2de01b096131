import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSeriesCsv } from '../data/read-csv.js';
import { evaluateEttTest, loadForecastModel } from '../forecast/model-dir.js';

/**
 * The shipped ETTh1 models (models/rwkv-ts-etth1-{96,192,336,720}, trained by
 * training/timeseries/sweep.py) through rwkv-streams on the first 64 test windows of
 * ETTh1 (all 7 channels, standardized): the MSE PyTorch computed at export, within 1e-5.
 */
const models = fileURLToPath(new URL('../../../../models/', import.meta.url));
const ett = join(import.meta.dirname, '../../../../../shared/data/ett/ETTh1.csv');

describe.skipIf(!existsSync(ett))('the shipped RWKV-TS ETTh1 models', () => {
  for (const horizon of [96, 192, 336, 720])
    it(`${horizon} h reproduces PyTorch on the first 64 test windows`, async () => {
      const loaded = loadForecastModel(join(models, `rwkv-ts-etth1-${horizon}`));
      expect(loaded.model.config).toMatchObject({ predLen: horizon, seqLen: 336, nLayer: 2, patchNum: 42 });
      const r = await evaluateEttTest(loaded, await readSeriesCsv(ett), { windows: 64, batch: 16 });
      const want = loaded.card.first64TestWindowsMse!;
      console.log(
        `ETTh1 ${horizon} h, first 64 test windows: MSE ${r.mse.toFixed(6)} (PyTorch ${want.toFixed(6)})`,
      );
      expect(r).toMatchObject({ horizon, windows: 64 });
      expect(Math.abs(r.mse - want)).toBeLessThan(1e-5);
      await loaded.model.dispose();
    });
});
