/**
 * @rwkv-streams/timeseries: RWKV-TS forecasting. This first slice is the model itself,
 * exactly as the official RWKV4TS computes it, loaded from its state_dict by name.
 */

export { type EttSplits, ettHourSplits, type SplitSeries } from './data/ett.js';
export { type ReadCsvOptions, readSeriesCsv, type Series } from './data/read-csv.js';
export { type BacktestResult, backtest, forecastNext } from './forecast/forecast.js';
export { type ForecastChartOptions, forecastChartSvg } from './forecast/forecast-chart.js';
export { formatForecastCsv, formatTimestamp } from './forecast/forecast-csv.js';
export {
  type EttEvaluation,
  evaluateEttTest,
  type ForecastModel,
  type ForecastModelCard,
  forecastSeries,
  loadForecastModel,
  type SeriesForecast,
} from './forecast/model-dir.js';
export { mae, mape, mase, mse, rmse, smape } from './metrics/metrics.js';
export type { RwkvTsConfig } from './model/config.js';
export {
  loadRwkvTsWeights,
  type RwkvTsLoadOptions,
  type RwkvTsWeights,
  rwkvTsFromWeights,
} from './model/load-rwkv-ts.js';
export { buildRwkvTsGraph, RWKV_TS_IO } from './model/rwkv-ts-graph.js';
export { RwkvTsModel } from './model/rwkv-ts-model.js';
export { type AnomalyScore, type AnomalyScoresOptions, anomalyScores } from './operators/anomaly-scores.js';
export { type LiveFeed, liveFeed } from './operators/live-feed.js';
export {
  type Observation,
  type RollingForecast,
  type RollingForecastOptions,
  rollingForecast,
} from './operators/rolling-forecast.js';
export { SeriesWindows } from './operators/series-windows.js';
