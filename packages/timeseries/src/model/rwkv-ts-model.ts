import { BadInputError, CompiledGraphCache, type Device, type HostTensor } from '@rwkv-streams/core';
import type { RwkvTsConfig } from './config.js';
import { buildRwkvTsGraph, RWKV_TS_IO } from './rwkv-ts-graph.js';

/**
 * An RWKV-TS forecaster on a backend: `forecast(history, batch, channels)` with history
 * [batch, seqLen, channels] row-major (raw values: the model normalizes each window itself)
 * returns [batch, predLen, channels]. One graph is compiled per channel count.
 */
export class RwkvTsModel {
  private readonly graphs: CompiledGraphCache<number>;

  constructor(
    readonly config: RwkvTsConfig,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    options: { readonly device?: Device } = {},
  ) {
    this.graphs = new CompiledGraphCache('RwkvTsModel', options);
  }

  /** The device the model runs on. */
  get device(): Device {
    return this.graphs.device;
  }

  async forecast(history: Float32Array, batch: number, channels: number): Promise<Float32Array> {
    const want = batch * this.config.seqLen * channels;
    if (
      !Number.isInteger(batch) ||
      batch < 1 ||
      !Number.isInteger(channels) ||
      channels < 1 ||
      history.length !== want
    )
      throw new BadInputError(
        `history has ${history.length} values; ${batch} x ${this.config.seqLen} x ${channels} needs ${want}`,
        { field: 'history' },
      );
    const graph = await this.graphs.get(channels, () =>
      buildRwkvTsGraph(this.config, this.tensors, channels),
    );
    const out = await graph.run({
      [RWKV_TS_IO.history]: { dtype: 'float32', dims: [batch, this.config.seqLen, channels], data: history },
    });
    return out[RWKV_TS_IO.forecast]!.data as Float32Array;
  }

  /** Frees every compiled graph. */
  dispose(): Promise<void> {
    return this.graphs.dispose();
  }
}
