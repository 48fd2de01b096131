/**
 * The shipped RWKV-TS ETTh1 models on the whole ETTh1 test split through rwkv-streams
 * (every window at stride 1, all 7 channels, standardized), against the figures PyTorch
 * computed at export, and the four-horizon average beside the published ones:
 *
 *   node bench/dist/etth1-accuracy.js path/to/ETTh1.csv [--device cpu|cuda] [--model DIR ...]
 *
 * (`rwkv-streams forecast-eval --csv ETTh1.csv` prints the same through the CLI.)
 */
import { parseArgs } from 'node:util';
import type { Device } from '@rwkv-streams/core';
import { evaluateEttTest, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cpu' },
    model: {
      type: 'string',
      multiple: true,
      default: [96, 192, 336, 720].map((h) => `models/rwkv-ts-etth1-${h}`),
    },
  },
});
const csv = positionals[0];
if (!csv) throw new Error('usage: etth1-accuracy.js <ETTh1.csv>');
if (values.device === 'cuda') await import('@rwkv-streams/cuda');
const series = await readSeriesCsv(csv);
let mseSum = 0;
let maeSum = 0;
for (const dir of values.model) {
  const loaded = loadForecastModel(dir, { device: values.device as Device });
  const t0 = performance.now();
  const r = await evaluateEttTest(loaded, series);
  const s = (performance.now() - t0) / 1000;
  const { testMse, testMae } = loaded.card;
  console.log(
    `${dir} (${values.device}): ${r.windows} windows x 7 channels in ${s.toFixed(1)} s: rwkv-streams MSE ${r.mse.toFixed(4)} MAE ${r.mae.toFixed(4)}; PyTorch at export MSE ${testMse?.toFixed(4)} MAE ${testMae?.toFixed(4)} (|diff| ${Math.abs(r.mse - (testMse ?? Number.NaN)).toExponential(1)})`,
  );
  mseSum += r.mse;
  maeSum += r.mae;
  await loaded.model.dispose();
}
const n = values.model.length;
console.log(`average of ${n}: MSE ${(mseSum / n).toFixed(4)} MAE ${(maeSum / n).toFixed(4)}`);
console.log(
  'published averages (96-720): RWKV-TS 0.433 / 0.445, PatchTST 0.413 / 0.430, DLinear 0.423 / 0.437',
);
