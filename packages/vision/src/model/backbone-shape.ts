import { type HostTensor, MissingTensorError, ShapeMismatchError } from '@rwkv-streams/core';

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
