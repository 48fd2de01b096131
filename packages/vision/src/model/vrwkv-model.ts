import {
  BadInputError,
  CompiledGraphCache,
  type Device,
  type HostTensor,
  ShapeMismatchError,
  type WeightDType,
} from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { buildVrwkvGraph, VRWKV_IO } from './vrwkv-graph.js';
import type { Vrwkv6Config } from './vrwkv6-config.js';
import { buildVrwkv6Graph } from './vrwkv6-graph.js';

/** How a VRWKV runs. */
export interface VrwkvModelOptions {
  /** Device (default: the core's default device). */
  readonly device?: Device;
  /** CPU threads (0/absent: the backend's default). */
  readonly threads?: number;
  /** Weight storage precision. */
  readonly weightDType?: WeightDType;
}

/** Backbone features and, with a head, class logits for a batch of images. */
export interface VrwkvOutput {
  /** [batch, rows * cols, C] row-major. */
  readonly features: Float32Array;
  /** Patch grid of the features. */
  readonly grid: readonly [number, number];
  /** [batch, classes] row-major (absent without a head). */
  readonly logits?: Float32Array;
}

/**
 * A Vision-RWKV backbone of either family (with its head, when the weights have one) on a
 * backend: VRWKV (RWKV-4 style, `VrwkvConfig`) or VRWKV6 (RWKV-6 blocks, `Vrwkv6Config`,
 * told apart by its `version: 6`); both have the same inputs and outputs. Images
 * of any size that is a multiple of the patch size run; one graph is compiled per patch
 * grid (position embedding resized for it) and kept.
 */
export class VrwkvModel {
  private readonly graphs: CompiledGraphCache<string>;

  constructor(
    readonly config: VrwkvConfig | Vrwkv6Config,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    options: VrwkvModelOptions = {},
  ) {
    this.graphs = new CompiledGraphCache('VrwkvModel', {
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.weightDType ? { weightDType: options.weightDType } : {}),
    });
  }

  /** The device the model runs on. */
  get device(): Device {
    return this.graphs.device;
  }

  /**
   * Runs `batch` normalized images, `pixels` [batch, inChannels, height, width] row-major
   * (height and width multiples of the patch size).
   */
  async forward(pixels: Float32Array, batch: number, height: number, width: number): Promise<VrwkvOutput> {
    const P = this.config.patchSize;
    if (height % P !== 0 || width % P !== 0 || height < P || width < P)
      throw new ShapeMismatchError(
        `image ${width}x${height} is not a positive multiple of the ${P}-pixel patch`,
        {
          field: 'pixels',
        },
      );
    const want = batch * this.config.inChannels * height * width;
    if (!Number.isInteger(batch) || batch < 1 || pixels.length !== want)
      throw new BadInputError(
        `pixels has ${pixels.length} values; ${batch} x ${this.config.inChannels} x ${height} x ${width} needs ${want}`,
        { field: 'pixels' },
      );
    const grid: [number, number] = [height / P, width / P];
    const config = this.config;
    const graph = await this.graphs.get(grid.join('x'), () =>
      'version' in config && config.version === 6
        ? buildVrwkv6Graph(config, this.tensors, grid)
        : buildVrwkvGraph(config as VrwkvConfig, this.tensors, grid),
    );
    const out = await graph.run({
      [VRWKV_IO.pixels]: {
        dtype: 'float32',
        dims: [batch, this.config.inChannels, height, width],
        data: pixels,
      },
    });
    const logits = out[VRWKV_IO.logits];
    return {
      features: out[VRWKV_IO.features]!.data as Float32Array,
      grid,
      ...(logits ? { logits: logits.data as Float32Array } : {}),
    };
  }

  /** Frees every compiled graph. */
  dispose(): Promise<void> {
    return this.graphs.dispose();
  }
}
