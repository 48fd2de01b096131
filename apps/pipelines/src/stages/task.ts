/**
 * The contract between a task (classify, segment, transcribe, forecast, anomaly) and the
 * stage around it: a task answers every item with exactly one {@link Outcome}, in item
 * order, so flow limiting, retries and metrics work the same for every task.
 *
 * @module
 */
import { BadInputError, RwkvError } from '@rwkv-streams/core';
import type { OperatorFunction } from 'rxjs';
import type { PipelineItem } from '../items.js';

/** A JSON value, as records carry task results. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A task's answer for one item: a result, an error, or nothing to report (`none`). */
export interface Outcome {
  readonly item: PipelineItem;
  /** The task's result as JSON (what the record shows). */
  readonly result?: { readonly [key: string]: JsonValue };
  /** Why this item has no result. */
  readonly error?: RwkvError;
  /** The item was taken in but answered with nothing (a forecast before its window is full). */
  readonly none?: true;
  /** Attempts made, when the stage retried the item. */
  readonly attempts?: number;
}

/** A task with its model loaded. */
export interface Task<I extends PipelineItem = PipelineItem> {
  /** Items in, one outcome per item out, in item order; a fresh state per subscription. */
  readonly operator: OperatorFunction<I, Outcome>;
  /** Items the task works on at once (its batch size): the default of `flow.maxInFlight`. */
  readonly batchSize: number;
  /** Frees the model, once its calls in flight have settled (safe after an abort). */
  dispose(): Promise<void>;
}

/** Any failure as a typed error (a library's plain Error becomes a BadInputError). */
export const asRwkvError = (e: unknown): RwkvError =>
  e instanceof RwkvError ? e : new BadInputError(e instanceof Error ? e.message : String(e));

/** A number for JSON: 6 significant digits (no float noise in records). */
export const round6 = (v: number): number => (Number.isFinite(v) ? Number(v.toPrecision(6)) : v);
