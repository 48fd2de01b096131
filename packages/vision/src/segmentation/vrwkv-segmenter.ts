import {
  BadInputError,
  CompiledGraphCache,
  type Device,
  type HostTensor,
  ShapeMismatchError,
} from '@rwkv-streams/core';
import type { VrwkvModelOptions } from '../model/vrwkv-model.js';
import type { VrwkvSegConfig } from './config.js';
import { argmaxMask } from './metrics.js';
import { buildVrwkvSegGraph, SEG_IO } from './seg-graph.js';

/** Per-pixel class logits and the class mask of a batch of images. */
export interface SegOutput {
  /** [batch, height, width, classes] row-major. */
  readonly logits: Float32Array;
  /** [batch, height, width]: the most probable class of each pixel (first on ties). */
  readonly masks: Uint8Array;
}

/**
 * A VRWKV backbone with its decode head on a backend: normalized images in, per-pixel
 * classes at the input's full resolution out. Any size that is a multiple of the patch
 * size runs; one graph is compiled per patch grid and kept.
 */
export class VrwkvSegmenter {
  private readonly graphs: CompiledGraphCache<string>;

  constructor(
    readonly config: VrwkvSegConfig,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    options: VrwkvModelOptions = {},
  ) {
    if (config.numClasses > 256)
      throw new BadInputError(`${config.numClasses} classes do not fit a byte mask`, { field: 'numClasses' });
    this.graphs = new CompiledGraphCache('VrwkvSegmenter', {
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.weightDType ? { weightDType: options.weightDType } : {}),
    });
  }

  /** The device the model runs on. */
  get device(): Device {
    return this.graphs.device;
  }

  /** Runs `batch` normalized images, `pixels` [batch, inChannels, height, width] row-major. */
  async forward(pixels: Float32Array, batch: number, height: number, width: number): Promise<SegOutput> {
    const c = this.config.backbone;
    const P = c.patchSize;
    if (height % P !== 0 || width % P !== 0 || height < P || width < P)
      throw new ShapeMismatchError(
        `image ${width}x${height} is not a positive multiple of the ${P}-pixel patch`,
        {
          field: 'pixels',
        },
      );
    const want = batch * c.inChannels * height * width;
    if (!Number.isInteger(batch) || batch < 1 || pixels.length !== want)
      throw new BadInputError(
        `pixels has ${pixels.length} values; ${batch} x ${c.inChannels} x ${height} x ${width} needs ${want}`,
        { field: 'pixels' },
      );
    const grid: [number, number] = [height / P, width / P];
    const graph = await this.graphs.get(grid.join('x'), () =>
      buildVrwkvSegGraph(this.config, this.tensors, grid),
    );
    const out = await graph.run({
      [SEG_IO.pixels]: { dtype: 'float32', dims: [batch, c.inChannels, height, width], data: pixels },
    });
    const logits = out[SEG_IO.logits]!.data as Float32Array;
    return { logits, masks: argmaxMask(logits, this.config.numClasses) };
  }

  /** Frees every compiled graph. */
  dispose(): Promise<void> {
    return this.graphs.dispose();
  }
}
