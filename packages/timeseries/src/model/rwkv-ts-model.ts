import {
  type Backend,
  BadInputError,
  backendFor,
  type CompiledGraph,
  type Device,
  DisposedError,
  defaultDevice,
  type HostTensor,
} from '@rwkv-streams/core';
import type { RwkvTsConfig } from './config.js';
import { buildRwkvTsGraph, RWKV_TS_IO } from './rwkv-ts-graph.js';

/**
 * An RWKV-TS forecaster on a backend: `forecast(history, batch, channels)` with history
 * [batch, seqLen, channels] row-major (raw values: the model normalizes each window itself)
 * returns [batch, predLen, channels]. One graph is compiled per channel count.
 */
export class RwkvTsModel {
  private readonly compiled = new Map<number, Promise<CompiledGraph>>();
  private readonly backend: Backend;
  private disposed = false;
  readonly device: Device;

  constructor(
    readonly config: RwkvTsConfig,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    options: { readonly device?: Device } = {},
  ) {
    this.device = options.device ?? defaultDevice();
    this.backend = backendFor(this.device);
  }

  async forecast(history: Float32Array, batch: number, channels: number): Promise<Float32Array> {
    if (this.disposed) throw new DisposedError('RwkvTsModel');
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
    let c = this.compiled.get(channels);
    if (!c) {
      c = this.backend.compile(buildRwkvTsGraph(this.config, this.tensors, channels), {
        device: this.device,
      });
      this.compiled.set(channels, c);
      c.catch(() => this.compiled.delete(channels));
    }
    const out = await (await c).run({
      [RWKV_TS_IO.history]: { dtype: 'float32', dims: [batch, this.config.seqLen, channels], data: history },
    });
    return out[RWKV_TS_IO.forecast]!.data as Float32Array;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const c of this.compiled.values()) await (await c.catch(() => undefined))?.dispose();
    this.compiled.clear();
  }
}
