import {
  BadInputError,
  type HostTensor,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';

/** Wrappers checkpoints put around the official names (mmcls: `backbone.`, others: the rest). */
const PREFIXES = ['state_dict.', 'model.', 'module.', 'backbone.'];

/** A checkpoint's tensors under the official backbone names (wrapping prefixes dropped). */
export function officialBackboneNames(file: WeightFile): Map<string, HostTensor> {
  const tensors = new Map<string, HostTensor>();
  for (const [raw, t] of file.tensors) {
    let name = raw;
    for (const p of PREFIXES) if (name.startsWith(p)) name = name.slice(p.length);
    tensors.set(name, t);
  }
  return tensors;
}

/**
 * The patch grid the position embedding `pos_embed` [1, N, C] was trained for: `given`
 * when the caller knows it (checked against N), else the square grid of N positions.
 */
export function positionGrid(
  pos: HostTensor,
  given: readonly [number, number] | undefined,
  file: string,
): [number, number] {
  const N = pos.shape[1]!;
  let grid: readonly [number, number];
  if (given) grid = given;
  else {
    const side = Math.round(Math.sqrt(N));
    if (side * side !== N)
      throw new BadInputError(`pos_embed has ${N} positions, not a square grid: give patchResolution`, {
        file,
        field: 'pos_embed',
      });
    grid = [side, side];
  }
  if (grid[0] * grid[1] !== N)
    throw new ShapeMismatchError(
      `patchResolution ${grid[0]}x${grid[1]} does not match pos_embed's ${N} positions`,
      {
        file,
        field: 'pos_embed',
      },
    );
  return [grid[0], grid[1]];
}

/**
 * What VRWKV and VRWKV6 checkpoints both show of their size: the patch embedding's
 * convolution [C, inChannels, P, P] and the number of `layers.<i>` blocks. Typed errors name
 * the tensor and the file (`what` names the family in messages).
 */
export function backboneShape(
  tensors: ReadonlyMap<string, HostTensor>,
  file: string,
  what: string,
): { embedDims: number; inChannels: number; patchSize: number; depth: number } {
  const conv = tensors.get('patch_embed.projection.weight');
  if (!conv)
    throw new MissingTensorError(`${what} weights have no 'patch_embed.projection.weight'`, {
      file,
      field: 'patch_embed.projection.weight',
    });
  if (conv.shape.length !== 4 || conv.shape[2] !== conv.shape[3])
    throw new ShapeMismatchError(`patch_embed.projection.weight is [${conv.shape}], expected [C, in, P, P]`, {
      file,
      field: 'patch_embed.projection.weight',
    });
  const [embedDims, inChannels, patchSize] = conv.shape as [number, number, number, number];
  let depth = 0;
  while (tensors.has(`layers.${depth}.ln1.weight`)) depth++;
  if (depth === 0) throw new MissingTensorError(`${what} weights have no 'layers.0.ln1.weight'`, { file });
  return { embedDims, inChannels, patchSize, depth };
}
