import { fileURLToPath } from 'node:url';
import { BadInputError } from '@rwkv-streams/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { mse } from '../metrics/metrics.js';
import { loadRwkvTsWeights } from '../model/load-rwkv-ts.js';
import { RwkvTsModel } from '../model/rwkv-ts-model.js';
import { rollingForecast } from '../operators/rolling-forecast.js';
import { backtest, forecastNext } from './forecast.js';

const dir = fileURLToPath(new URL('../../fixtures/official/', import.meta.url));
const { config, tensors } = loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, { nHead: 2, seqLen: 64, stride: 8 });
const model = new RwkvTsModel(config, tensors);
afterAll(() => model.dispose());
const C = 3;
const series = (rows: number, phase = 0) =>
  Float32Array.from(
    { length: rows * C },
    (_, i) => Math.sin(Math.floor(i / C) / 6 + (i % C) + phase) * (1 + (i % C)) + (i % C),
  );
const same = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  expect(m).toBeLessThan(1e-5);
};

describe('forecasting a series', () => {
  it('forecastNext uses the last lookback rows, and refuses a short history', async () => {
    const v = series(100);
    same(await forecastNext(model, v, C), await model.forecast(v.slice(36 * C), 1, C));
    await expect(forecastNext(model, series(63), C)).rejects.toThrow(/63 rows, the model looks back 64/);
    await expect(forecastNext(model, new Float32Array(10), C)).rejects.toThrow(/not rows of 3 channels/);
  });

  it('backtest scores every sliding window against what followed', async () => {
    const v = series(98); // 64 + 24 + 10: windows start at 0, 5, 10
    const result = await backtest(model, v, C, { stride: 5, batch: 2 });
    expect(result.windows).toBe(3);
    const actual: number[] = [];
    const predicted: number[] = [];
    for (const s of [0, 5, 10]) {
      actual.push(...v.slice((s + 64) * C, (s + 88) * C));
      predicted.push(...(await model.forecast(v.slice(s * C, (s + 64) * C), 1, C)));
    }
    // Batches of 2 vs single windows: the same up to float32 rounding.
    expect(result.mse).toBeCloseTo(mse(actual, predicted), 5);
    await expect(backtest(model, series(80), C)).rejects.toThrow(BadInputError);
  });

  it('rollingForecast forecasts each series once its window is full, from the latest 64 rows', async () => {
    const a = series(70, 0);
    const b = series(70, 1);
    const obs = Array.from({ length: 70 }, (_, t) => [
      { key: 'a', timestamp: t, values: a.subarray(t * C, (t + 1) * C) },
      { key: 'b', timestamp: t, values: b.subarray(t * C, (t + 1) * C) },
    ]).flat();
    const out = await lastValueFrom(
      from(obs).pipe(rollingForecast({ model, channels: C, maxBatchSize: 4 }), toArray()),
    );
    expect(out.filter((f) => f.key === 'a').map((f) => f.timestamp)).toEqual([63, 64, 65, 66, 67, 68, 69]);
    expect(out.filter((f) => f.key === 'b')).toHaveLength(7);
    const lastB = out.filter((f) => f.key === 'b').pop()!;
    same(lastB.forecast, await model.forecast(b.slice(6 * C, 70 * C), 1, C));
  });

  it('rollingForecast refuses a wrong channel count and time going backwards', async () => {
    const bad = [{ key: 'a', timestamp: 0, values: [1, 2] }];
    await expect(lastValueFrom(from(bad).pipe(rollingForecast({ model, channels: C })))).rejects.toThrow(
      /2 values, expected 3/,
    );
    const back = [
      { key: 'a', timestamp: 5, values: [1, 2, 3] },
      { key: 'a', timestamp: 4, values: [1, 2, 3] },
    ];
    await expect(lastValueFrom(from(back).pipe(rollingForecast({ model, channels: C })))).rejects.toThrow(
      /does not come after/,
    );
  });
});
