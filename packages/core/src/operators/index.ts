/**
 * The base RxJS operators of the runtime: batching, stateful model running with per-key
 * state, bounded-concurrency mapping, per-item failure isolation and retries, per-stage metrics, flow limiting and graceful shutdown. The vision, speech and
 * time-series packages build on these.
 *
 * @example
 * ```ts
 * import { batchItems, mapConcurrent, runStateful, tryMap } from './operators/index.js';
 * ```
 *
 * @module
 */
export { type BatchItemsOptions, batchItems } from './batch-items.js';
export { type FlowPolicy, type LimitFlowOptions, limitFlow } from './limit-flow.js';
export { type MapConcurrentOptions, mapConcurrent } from './map-concurrent.js';
export { type MetricsOptions, metrics } from './metrics.js';
export {
  PipelineMetrics,
  type PipelineMetricsOptions,
  StageRecorder,
  type StageSnapshot,
} from './pipeline-metrics.js';
export { type RetryOptions, retrying } from './retrying.js';
export { type RunStatefulOptions, runStateful, type StatefulResult } from './run-stateful.js';
export type { BatchStepper, StepItem, StepResult } from './stepper.js';
export { type TryMapOptions, type TryResult, tryMap } from './try-map.js';
export { type UntilSignalOptions, untilSignal } from './until-signal.js';
