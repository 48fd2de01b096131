import type { Graph } from '@rwkv-streams/core';
import { groupGemvs } from '../src/exec/gemv-groups.js';
import { halfActivations } from '../src/exec/half-activations.js';
import { linearHalfInput, linearRunsGemv } from '../src/exec/lower/gemm.js';
import { fuseRows } from '../src/exec/row-fusion.js';
import { inferShapes } from '../src/exec/shapes.js';
import { buildUnits } from '../src/exec/units.js';
import { callDims } from './call-dims.js';

/**
 * The plan's unit pipeline up to row fusion (exec/plan.ts, without a GPU), as with float16
 * weights (GEMV groups, half activations) or float32 ones (neither): the shapes of one call,
 * the units before row fusion, the half activations chosen, and the units after row fusion.
 */
export function unitPipeline(g: Graph, batch: number, t: number, weightType: 'f16' | 'f32' = 'f16') {
  const shapes = inferShapes(g, callDims(g, batch, t), new Map([['logits_from', t - 1]]));
  const weights = new Set(g.initializers.keys());
  let units = buildUnits(g, shapes);
  units = groupGemvs(units, g, shapes, (n) => {
    const x = shapes.get(n.inputs[0]!.name)!;
    const k = x[x.length - 1]!;
    return weights.has(n.inputs[1]!.name) && linearRunsGemv(x.reduce((a, b) => a * b, 1) / k, k, weightType);
  });
  const half = halfActivations(
    g,
    units,
    shapes,
    (name) => weights.has(name),
    (n, sh) => linearHalfInput(sh.get(n.inputs[0]!.name)!, weightType),
  );
  return { shapes, units, half, rows: fuseRows(units, g, shapes) };
}
