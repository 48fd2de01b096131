/**
 * A stage's task from its spec.
 *
 * @module
 */
import type { PipelineItem } from '../items.js';
import type { StageSpec } from '../schema.js';
import { anomalyTask } from './anomaly.js';
import { classifyTask } from './classify.js';
import { forecastTask } from './forecast.js';
import { segmentTask } from './segment.js';
import type { Task } from './task.js';
import { transcribeTask } from './transcribe.js';

/** Loads the model of a stage and makes its task (`columns`: the source's channel names, if it has them). */
export async function openTask(
  spec: StageSpec,
  stage: string,
  columns: readonly string[] | undefined,
): Promise<Task> {
  let task: Task<never>;
  switch (spec.task) {
    case 'classify':
      task = classifyTask(spec);
      break;
    case 'segment':
      task = segmentTask(spec);
      break;
    case 'transcribe':
      task = await transcribeTask(spec);
      break;
    case 'forecast':
      task = forecastTask(spec, stage, columns);
      break;
    case 'anomaly':
      task = anomalyTask(spec, stage, columns);
      break;
  }
  // the schema made sure the source gives the items this task takes (TASK_INPUT)
  return task as unknown as Task<PipelineItem>;
}
