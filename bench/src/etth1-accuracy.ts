/**
 * The shipped RWKV-TS ETTh1 model on the whole ETTh1 test split through rwkv-streams
 * (every window at stride 1, all 7 channels, standardized), against the figures PyTorch
 * computed at export:
 *
 *   node bench/dist/etth1-accuracy.js path/to/ETTh1.csv [--device cpu|cuda]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Device } from '@rwkv-streams/core';
import {
  backtest,
  ettHourSplits,
  loadRwkvTsWeights,
  RwkvTsModel,
  readSeriesCsv,
} from '@rwkv-streams/timeseries';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'models/rwkv-ts-etth1-96' },
  },
});
const csv = positionals[0];
if (!csv) throw new Error('usage: etth1-accuracy.js <ETTh1.csv>');
if (values.device === 'cuda') await import('@rwkv-streams/cuda');
const card = JSON.parse(readFileSync(`${values.model}/config.json`, 'utf8')) as {
  testMse: number;
  testMae: number;
};
const { config, tensors } = loadRwkvTsWeights(`${values.model}/model.pth`, {
  nHead: 2,
  seqLen: 336,
  stride: 8,
});
const model = new RwkvTsModel(config, tensors, { device: values.device as Device });
const { test } = ettHourSplits(await readSeriesCsv(csv), config.seqLen);
const t0 = performance.now();
const r = await backtest(model, test.values, 7, { batch: 64 });
const s = (performance.now() - t0) / 1000;
console.log(`device ${values.device}: ${r.windows} windows x 7 channels in ${s.toFixed(1)} s`);
console.log(
  `rwkv-streams: test MSE ${r.mse.toFixed(4)} MAE ${r.mae.toFixed(4)}; PyTorch at export: MSE ${card.testMse.toFixed(4)} MAE ${card.testMae.toFixed(4)}`,
);
await model.dispose();
