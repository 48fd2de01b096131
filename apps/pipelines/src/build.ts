/**
 * A validated pipeline file made an Observable of records: the source opened, each stage's
 * model loaded, the stages fed from the one source (shared when there are several: a
 * fan-out) and their records merged.
 *
 * @module
 */
import { PipelineMetrics } from '@rwkv-streams/core';
import { connect, merge, NEVER, type Observable, takeUntil, tap } from 'rxjs';
import type { LoadedPipeline } from './load.js';
import type { TaskName } from './schema.js';
import { openSource, type StdinSource } from './sources/index.js';
import { newCounters, type PipelineRecord, type StageCounters, stageOperator } from './stage.js';
import { openTask } from './stages/index.js';
import type { Task } from './stages/task.js';

/** A stage of a built pipeline. */
export interface BuiltStage {
  readonly name: string;
  readonly task: TaskName;
  /** Filled as the pipeline runs. */
  readonly counters: StageCounters;
}

/** A pipeline ready to run: subscribe to `records`, then call `dispose()`. */
export interface BuiltPipeline {
  /** Every stage's records, merged; completes when the source is done and the stages have finished. */
  readonly records: Observable<PipelineRecord>;
  /** The stages' figures (the core's `metrics()` records into it). */
  readonly registry: PipelineMetrics;
  readonly stages: readonly BuiltStage[];
  /** Items the source gave so far. */
  itemsRead(): number;
  /** Frees the models (after their calls in flight settle). */
  dispose(): Promise<void>;
}

/** Options of {@link buildPipeline}. */
export interface BuildOptions {
  /** What `-` reads (default: the process's stdin). */
  readonly stdin?: StdinSource;
  /** Stops the source when it emits: no new item enters, the stages finish what they hold (a drain). */
  readonly drain?: Observable<unknown>;
}

/** Stage names: the file's, else the task (numbered `task-i` when the task is there more than once). */
export function stageNames(pipeline: LoadedPipeline): string[] {
  const { stages } = pipeline.spec;
  const taken = new Set(stages.flatMap((s) => (s.name ? [s.name] : [])));
  return stages.map((s, i) => {
    if (s.name) return s.name;
    const alone = stages.filter((t) => !t.name && t.task === s.task).length === 1;
    return alone && !taken.has(s.task) ? s.task : `${s.task}-${i}`;
  });
}

/**
 * Opens the source and loads every stage's model. A model that fails to load frees those
 * loaded before it and throws.
 */
export async function buildPipeline(
  pipeline: LoadedPipeline,
  options: BuildOptions = {},
): Promise<BuiltPipeline> {
  const { spec, dir } = pipeline;
  const stop = options.drain ?? NEVER;
  const source = await openSource(spec.source, {
    dir,
    stdin: options.stdin ?? process.stdin,
    stop,
  });
  const names = stageNames(pipeline);
  const tasks: Task[] = [];
  try {
    for (const [i, stage] of spec.stages.entries())
      tasks.push(await openTask(stage, names[i]!, source.columns));
  } catch (err) {
    await Promise.all(tasks.map((t) => t.dispose()));
    throw err;
  }
  const registry = new PipelineMetrics();
  const stages = spec.stages.map((s, i) => ({ name: names[i]!, task: s.task, counters: newCounters() }));
  let read = 0;
  const items = (options.drain ? source.items.pipe(takeUntil(options.drain)) : source.items).pipe(
    tap(() => read++),
  );
  const operators = spec.stages.map((s, i) =>
    stageOperator({ name: names[i]!, spec: s, task: tasks[i]!, registry, counters: stages[i]!.counters }),
  );
  return {
    // connect(): every stage subscribes before the first item flows (share() would give a
    // synchronous source's items to the first stage only)
    records: items.pipe(connect((shared) => merge(...operators.map((op) => shared.pipe(op))))),
    registry,
    stages,
    itemsRead: () => read,
    dispose: async () => {
      await Promise.all(tasks.map((t) => t.dispose()));
    },
  };
}
