import { join } from 'node:path';
import { backtest, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import { type BenchFigure, type BenchOptions, REPO_ROOT, rate } from './common.js';

/** The ETTh1 rows shipped in the repository (the last 1,000, after the standard splits). */
export const ETTH1_EXCERPT = join(REPO_ROOT, 'examples', 'data', 'ETTh1-last-1000.csv');

/** Windows a forecaster call takes. */
export const FORECAST_BATCH = 64;

/**
 * RWKV-TS with the shipped 96-hour ETTh1 model (models/rwkv-ts-etth1-96: 336 hours back,
 * 96 ahead, 7 channels) over the ETTh1 excerpt in examples/data: forecast windows/s (every
 * window at stride 1, {@link FORECAST_BATCH} a call, all 7 channels), and the MSE of those
 * forecasts (standardized with the training split's statistics, as the papers report it;
 * rows the model never saw, fewer than a test split, so not comparable with test figures).
 */
export async function benchTimeseries(o: BenchOptions): Promise<BenchFigure[]> {
  o.onStep?.('timeseries: ETTh1 forecast');
  const loaded = loadForecastModel(join(o.models, 'rwkv-ts-etth1-96'), { device: o.device });
  try {
    const { card, model } = loaded;
    const series = await readSeriesCsv(ETTH1_EXCERPT, { columns: card.columns });
    const C = card.columns.length;
    const values = new Float32Array(series.values.length);
    for (let i = 0; i < values.length; i++)
      values[i] = (series.values[i]! - card.mean[i % C]!) / card.std[i % C]!;
    // Quick: the first 64 windows a round; else all of them.
    const rows = o.quick ? FORECAST_BATCH + card.seqLen + card.predLen - 1 : series.rows;
    const timed = values.subarray(0, rows * C);
    const all = await backtest(model, values, C, { batch: FORECAST_BATCH });
    const perSecond = await rate(
      async () => (await backtest(model, timed, C, { batch: FORECAST_BATCH })).windows,
      o.quick ? 300 : 3000,
    );
    return [
      {
        package: 'timeseries',
        figure: `ETTh1 96-hour forecast, 7 channels, ${FORECAST_BATCH} windows a call`,
        unit: 'windows/s',
        value: perSecond,
      },
      {
        package: 'timeseries',
        figure: `ETTh1 96-hour MSE, ${all.windows} windows of examples/data`,
        unit: 'MSE',
        value: all.mse,
      },
    ];
  } finally {
    await loaded.model.dispose();
  }
}
