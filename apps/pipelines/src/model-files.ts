/**
 * The files each task's model needs, as the folders in models/ ship them, so a pipeline
 * file naming a missing model is refused when it is loaded, not after the first items ran.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TaskName } from './schema.js';

/** The files a task's model path names: a folder, or its main file with the card beside it. */
export interface ModelFiles {
  /** The weights. */
  readonly weights: string;
  /** The model card (config.json), for the tasks whose models have one. */
  readonly config?: string;
  /** The folder. */
  readonly dir: string;
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The weights file name each task's model folder holds. */
const WEIGHTS: Readonly<Record<TaskName, string>> = {
  classify: 'model.safetensors',
  segment: 'model.safetensors',
  transcribe: 'model.safetensors',
  forecast: 'model.pth',
  anomaly: 'model.pth',
};

/** The files of the model of `task` at `path` (not checked; see {@link modelProblem}). */
export function modelFiles(task: TaskName, path: string): ModelFiles {
  const dir = isDir(path) ? path : dirname(path);
  const weights = isDir(path) ? join(path, WEIGHTS[task]) : path;
  return task === 'transcribe' ? { weights, dir } : { weights, dir, config: join(dir, 'config.json') };
}

/** What is missing for the model of `task` at `path`, in words; undefined when all is there. */
export function modelProblem(task: TaskName, path: string): string | undefined {
  if (!existsSync(path)) return `model not found: ${path}`;
  const files = modelFiles(task, path);
  if (!existsSync(files.weights)) return `no ${WEIGHTS[task]} in the model folder ${files.dir}`;
  if (files.config && !existsSync(files.config))
    return `no config.json (the model card) beside the weights in ${files.dir}`;
  return undefined;
}
