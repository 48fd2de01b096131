import type { Graph } from '../../graph/ir.js';
import type { ExternalData } from './external-weights.js';
import { type LowerOptions, lowerToOnnx, lowerToOnnxByTime, lowerToOnnxStepFirst } from './lower.js';

/**
 * One lowering, as data (so that it can be posted to a worker thread): which of the three
 * lowerings, its graphs, and its options without the weights file (given apart).
 */
export type LowerRequest =
  | { readonly kind: 'single'; readonly graph: Graph; readonly options: LowerOptions }
  | {
      readonly kind: 'by-time' | 'step-first';
      readonly whenTimeIs1: Graph;
      readonly otherwise: Graph;
      readonly timeInput: string;
      readonly options: LowerOptions;
    };

/** The lowered model, and how many bytes went to the weights file (0 without one). */
export interface Lowered {
  readonly bytes: Uint8Array;
  readonly written: number;
}

/**
 * Runs a lowering here, in this thread; weights go to `external.file` when given (and its
 * `onWritten` hears how many bytes).
 */
export function lowerHere(request: LowerRequest, external?: ExternalData): Lowered {
  let written = 0;
  const options: LowerOptions = external
    ? {
        ...request.options,
        externalData: {
          file: external.file,
          location: external.location,
          onWritten: (n) => {
            written = n;
            external.onWritten?.(n);
          },
        },
      }
    : request.options;
  const bytes =
    request.kind === 'single'
      ? lowerToOnnx(request.graph, options)
      : request.kind === 'by-time'
        ? lowerToOnnxByTime(request.whenTimeIs1, request.otherwise, request.timeInput, options)
        : lowerToOnnxStepFirst(request.whenTimeIs1, request.otherwise, request.timeInput, options);
  return { bytes, written };
}
