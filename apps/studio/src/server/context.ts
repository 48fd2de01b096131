import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, type PipelineMetrics } from '@rwkv-streams/core';
import { lastValueFrom, type OperatorFunction, of, pipe, timeout } from 'rxjs';
import type { StudioLimits } from './limits.js';
import type { StudioModels } from './models.js';

/** What every route shares: the models, the one metrics registry, the limits. */
export interface StudioContext {
  readonly models: StudioModels;
  /** Every stage of every request records here; the pipeline page and /metrics read it. */
  readonly registry: PipelineMetrics;
  readonly limits: StudioLimits;
}

/** An HTTP route: it answers the request or throws (an HttpError, a package's typed error). */
export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: StudioContext,
) => Promise<void> | void;

/**
 * Runs one item through a pipeline stage measured as `stage` in the registry (items,
 * latency, errors), bounded by the process time limit (a timeout counts as the stage's
 * error). Requests are one item each, so every request is one item through each stage it
 * passes.
 */
export function measure<T, R>(
  ctx: StudioContext,
  stage: string,
  input: T,
  op: OperatorFunction<T, R>,
): Promise<R> {
  return lastValueFrom(
    of(input).pipe(metrics(ctx.registry, stage, pipe(op, timeout({ first: ctx.limits.processTimeoutMs })))),
  );
}
