/**
 * The files each task's model needs, as the folders in models/ ship them, so a pipeline
 * file naming a missing model is refused when it is loaded, not after the first items ran.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';
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

/** What the vision tasks read from a model folder's config.json. */
export interface VisionModelCard {
  /** Class names, one per class. */
  readonly labels: string[];
  /** Per-channel mean and standard deviation on the 0-255 scale. */
  readonly mean: number[];
  readonly std: number[];
  /** The square input size the model was trained on. */
  readonly imageSize: number;
  /** Image channels the model takes (1: greyscale, 3: RGB). */
  readonly inChannels: 1 | 3;
  /** A segmenter's background class (left out of the classes found). */
  readonly background?: number;
}

const numbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

/** Reads a vision model card; a missing or wrong field is a MalformedFileError naming it. */
export function readVisionCard(config: string): VisionModelCard {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FileNotFoundError('no model card', { file: config });
    throw new MalformedFileError(`not JSON (${(err as Error).message})`, { file: config });
  }
  const { labels, mean, std, imageSize, inChannels, background } = raw;
  const bad = (field: string, want: string) =>
    new MalformedFileError(`expected ${want}`, { file: config, field });
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string'))
    throw bad('labels', 'an array of class names');
  if (!numbers(mean)) throw bad('mean', 'an array of numbers');
  if (!numbers(std)) throw bad('std', 'an array of numbers');
  if (typeof imageSize !== 'number' || !Number.isInteger(imageSize) || imageSize < 1)
    throw bad('imageSize', 'a positive integer');
  const channels = inChannels === undefined ? mean.length : inChannels;
  if (channels !== 1 && channels !== 3) throw bad('inChannels', '1 (greyscale) or 3 (RGB)');
  if (background !== undefined && typeof background !== 'number') throw bad('background', 'a class index');
  return {
    labels: labels as string[],
    mean,
    std,
    imageSize,
    inChannels: channels,
    ...(background !== undefined ? { background } : {}),
  };
}
