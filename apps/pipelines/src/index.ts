/**
 * @rwkv-streams/pipelines: declarative pipeline files (YAML or JSON) for people who do not
 * write code. A file names a source (images, WAV files, PCM, a CSV series, JSON lines,
 * lines of paths), one or more stages (classify, segment, transcribe, forecast, anomaly:
 * the modality packages' operators on real models) with their error policy and flow limit,
 * a sink, metrics and how to shut down; {@link runPipeline} runs it as an RxJS pipeline.
 *
 * @example
 * ```ts
 * import { runPipeline } from '@rwkv-streams/pipelines';
 * const summary = await runPipeline('examples/pipelines/images.yaml', { processSignals: true });
 * process.stderr.write(summary.prometheus);
 * ```
 *
 * @module
 */
export {
  type BuildOptions,
  type BuiltPipeline,
  type BuiltStage,
  buildPipeline,
  stageNames,
} from './build.js';
export { PipelineFileError, type PipelineProblem, StageFailedError } from './errors.js';
export type { AudioItem, ImageItem, ObservationItem, PipelineItem } from './items.js';
export {
  type LoadedPipeline,
  loadPipelineFile,
  type ParsePipelineOptions,
  parsePipeline,
  validatePipeline,
} from './load.js';
export { pipelinePrometheus } from './prometheus.js';
export { type PipelineSummary, type RunOptions, runPipeline, type StageSummary } from './run.js';
export {
  type ErrorPolicy,
  type FlowSpec,
  type ItemKind,
  type PipelineFile,
  type PipelineFileInput,
  pipelineFileSchema,
  type SourceSpec,
  type StageSpec,
  type TaskName,
} from './schema.js';
export type { StdinSource } from './sources/index.js';
export type { PipelineRecord, StageCounters } from './stage.js';
export type { JsonValue } from './stages/task.js';
