import { fileURLToPath } from 'node:url';
import { BadInputError, loadWeights, ShapeMismatchError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { loadRwkvTsWeights } from './load-rwkv-ts.js';
import { RwkvTsModel } from './rwkv-ts-model.js';

/**
 * Our RWKV-TS against the official RWKV4TS (howard-hou/RWKV-TS, fixture made by
 * training/timeseries/make_rwkv_ts_parity_fixture.py: seq_len 64, pred_len 24, patch 16,
 * stride 8, d_model 32, 2 heads, 2 layers; 3 windows of 4 channels with offsets and
 * scales). Bound: max |diff| <= 1e-4 for forecasts of magnitude up to ~40 (float32 with
 * RevIN's scale undone; measured below).
 */
const dir = fileURLToPath(new URL('../../fixtures/official/', import.meta.url));
const options = { nHead: 2, seqLen: 64, stride: 8 };

describe('RWKV-TS matches the official RWKV4TS', () => {
  it('forecasts of a batch of multichannel windows', async () => {
    const { config, tensors } = loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, options);
    expect(config).toEqual({
      seqLen: 64,
      predLen: 24,
      patchSize: 16,
      stride: 8,
      patchNum: 8,
      dModel: 32,
      nHead: 2,
      nLayer: 2,
    });
    const expected = loadWeights(`${dir}rwkv-ts-tiny-expected.pth`).tensors;
    const history = expected.get('history')!;
    const want = expected.get('forecast')!;
    const [B, , M] = history.shape as [number, number, number];
    const model = new RwkvTsModel(config, tensors);
    const got = await model.forecast(history.data, B, M);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.data.length; i++) {
      diff = Math.max(diff, Math.abs(got[i]! - want.data[i]!));
      scale = Math.max(scale, Math.abs(want.data[i]!));
    }
    console.log(
      `RWKV-TS on ${model.device}: max |forecast diff| ${diff.toExponential(2)} (forecasts up to ${scale.toFixed(1)})`,
    );
    expect(got.length).toBe(want.data.length);
    expect(diff).toBeLessThanOrEqual(1e-4);
    await expect(model.forecast(new Float32Array(10), 1, 4)).rejects.toThrow(BadInputError);
    await model.dispose();
  });

  it('names what does not fit: a lookback the head was not trained for', () => {
    expect(() => loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, { ...options, seqLen: 96 })).toThrow(
      ShapeMismatchError,
    );
    expect(() => loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, { ...options, seqLen: 96 })).toThrow(
      /8 patches/,
    );
    expect(() => loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, { ...options, nHead: 3 })).toThrow(
      /multiple of 3 heads/,
    );
  });
});
