import { BadInputError, type Graph } from '@rwkv-streams/core';
import { numelOf } from './lower/context.js';

/**
 * Rows (streams x positions) up to which a Linear's input counts as decoding: the largest
 * batch measured faster with dependent launch (64 streams, one token each).
 */
export const DEPENDENT_LAUNCH_MAX_ROWS = 64;

/**
 * Whether a plan launches its kernels as programmatic dependent launches
 * (kernels/grid-dependency.ts): the `gridDependency` option, else RWKV_STREAMS_CUDA_PDL
 * ('1' on, '0' off), else on exactly when every Linear of the graph takes at most
 * DEPENDENT_LAUNCH_MAX_ROWS rows (decoding: a chain of small dependent kernels, where an
 * early launch hides each one's start). Measured on an H100 (2026-12-05, `cuda-profile
 * --pdl`): decode steps replay faster, 0.1B 1.09x at one stream and 1.04x at 64, 1.5B 1.03x
 * at one, but a 512-token prefill at one stream 0.72x (0.1B) and 0.95x (1.5B) as fast:
 * there, kernels waiting early hold SMs that kernels on the plan's other lanes and
 * cuBLAS's large grids would use. Between 64 and 512 rows (short prompts, speech and
 * vision chunks) nothing was measured: the threshold keeps the measured decode side.
 */
export function resolveGridDependency(
  option: boolean | undefined,
  graph: Graph,
  shapes: ReadonlyMap<string, readonly number[]>,
  env: string | undefined = process.env['RWKV_STREAMS_CUDA_PDL'],
): boolean {
  if (option !== undefined) return option;
  if (env !== undefined && env !== '') {
    if (env !== '0' && env !== '1')
      throw new BadInputError(`RWKV_STREAMS_CUDA_PDL must be 0 or 1, not '${env}'`, {
        field: 'RWKV_STREAMS_CUDA_PDL',
      });
    return env === '1';
  }
  const linears = graph.nodes.filter((n) => n.op === 'Linear');
  return (
    linears.length > 0 &&
    linears.every((n) => {
      const x = shapes.get(n.inputs[0]!.name);
      const k = x?.[x.length - 1] ?? 0;
      return x !== undefined && k > 0 && numelOf(x) / k <= DEPENDENT_LAUNCH_MAX_ROWS;
    })
  );
}
