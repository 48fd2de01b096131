import { BadInputError, ShapeMismatchError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { mae, mape, mase, mse, rmse, smape } from './metrics.js';

describe('forecast metrics against hand-computed values', () => {
  const a = [1, 2, 4, -2];
  const p = [2, 2, 1, 0];
  it('MSE, MAE, RMSE', () => {
    expect(mse(a, p)).toBeCloseTo((1 + 0 + 9 + 4) / 4, 12);
    expect(mae(a, p)).toBeCloseTo((1 + 0 + 3 + 2) / 4, 12);
    expect(rmse(a, p)).toBeCloseTo(Math.sqrt(14 / 4), 12);
  });
  it('MAPE and sMAPE in percent', () => {
    expect(mape(a, p)).toBeCloseTo((100 * (1 + 0 + 0.75 + 1)) / 4, 10);
    expect(smape(a, p)).toBeCloseTo((100 * (2 / 3 + 0 + 6 / 5 + 4 / 2)) / 4, 10);
    expect(smape([0, 1], [0, 1])).toBe(0);
  });
  it('MASE scales by the in-sample seasonal naive error', () => {
    const history = [1, 3, 2, 5, 4]; // lag-1 diffs 2, 1, 3, 1 -> 7/4; lag-2 diffs 1, 2, 2 -> 5/3
    expect(mase(a, p, history)).toBeCloseTo(1.5 / (7 / 4), 12);
    expect(mase(a, p, history, 2)).toBeCloseTo(1.5 / (5 / 3), 12);
  });
  it('refuses what has no value', () => {
    expect(() => mse([1, 2], [1])).toThrow(ShapeMismatchError);
    expect(() => mae([], [])).toThrow(BadInputError);
    expect(() => mape([0, 1], [1, 1])).toThrow(/actual value 0 is 0/);
    expect(() => mase(a, p, [3, 3, 3])).toThrow(/constant/);
    expect(() => mase(a, p, [3], 1)).toThrow(/more than season/);
  });
});
