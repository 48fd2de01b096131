import { BadInputError, GraphBuilder, type HostTensor, type Value } from '@rwkv-streams/core';

/** What every Vision-RWKV graph begins with. */
export interface VisionGraphStart {
  readonly b: GraphBuilder;
  /** A tensor by name; a missing one is a typed error naming it. */
  readonly get: (name: string) => HostTensor;
  /** `get` as a graph weight. */
  readonly param: (name: string) => Value;
  /** The input [batch, inChannels, rows * P, cols * P]. */
  readonly pixels: Value;
}

/**
 * The start shared by the VRWKV, VRWKV6 and segmentation graphs: the patch grid checked,
 * a builder, tensor lookup with typed errors (`what` names the weights in messages) and
 * the pixels input for the grid.
 */
export function startVisionGraph(
  name: string,
  what: string,
  tensors: ReadonlyMap<string, HostTensor>,
  sizes: { readonly patchSize: number; readonly inChannels: number },
  grid: readonly [number, number],
  pixelsName = 'pixels',
): VisionGraphStart {
  const [rows, cols] = grid;
  if (!(rows >= 1 && cols >= 1 && Number.isInteger(rows) && Number.isInteger(cols)))
    throw new BadInputError(`patch grid ${rows}x${cols} must be positive integers`, { field: 'grid' });
  const b = new GraphBuilder(name);
  const get = (n: string): HostTensor => {
    const t = tensors.get(n);
    if (!t) throw new BadInputError(`${what} weights have no '${n}'`, { field: n });
    return t;
  };
  const P = sizes.patchSize;
  return {
    b,
    get,
    param: (n) => b.weight(n, get(n)),
    pixels: b.input(pixelsName, 'float32', ['batch', sizes.inChannels, rows * P, cols * P]),
  };
}
