import {
  encodeBFloat16,
  encodeFloat16,
  type Graph,
  type HostTensor,
  numel,
  type WeightDType,
} from '@rwkv-streams/core';
import type { DevicePtr } from '../driver/cuda-driver.js';
import type { CudaRuntime } from '../runtime.js';
import { ALIGN } from './memory-plan.js';

/** Element types of device buffers. */
export type ElemType = 'f32' | 'i32' | 'f16' | 'bf16';

/** Bytes per element. */
export const ELEM_BYTES: Readonly<Record<ElemType, number>> = { f32: 4, i32: 4, f16: 2, bf16: 2 };

/** A weight in device memory. */
export interface DeviceWeight {
  readonly ptr: DevicePtr;
  readonly dims: readonly number[];
  readonly type: ElemType;
}

/**
 * A model's weights on the device, in one allocation. Matrices that feed a `Linear` or a
 * `Gather` (projections, LoRAs, head, embedding: nearly all the bytes) are stored in the
 * requested precision; vectors, norms, decays and mixes stay float32, where their
 * precision matters most and their size least.
 */
export class DeviceWeights {
  private released = false;

  private constructor(
    private readonly rt: CudaRuntime,
    private readonly base: DevicePtr,
    readonly bytes: number,
    private readonly weights: ReadonlyMap<string, DeviceWeight>,
  ) {}

  /** Uploads the initializers of `graphs` (shared names are uploaded once). */
  static upload(rt: CudaRuntime, graphs: readonly Graph[], dtype: WeightDType): DeviceWeights {
    const lowPrecision = new Set<string>();
    const all = new Map<string, HostTensor>();
    for (const g of graphs) {
      for (const n of g.nodes) {
        if (n.op === 'Linear') lowPrecision.add(n.inputs[1]!.name);
        if (n.op === 'Gather') lowPrecision.add(n.inputs[0]!.name);
      }
      for (const [name, init] of g.initializers) all.set(name, init.tensor);
    }
    const type = (name: string): ElemType =>
      dtype === 'float32' || !lowPrecision.has(name) ? 'f32' : dtype === 'float16' ? 'f16' : 'bf16';
    const layout: { name: string; offset: number; t: HostTensor; type: ElemType }[] = [];
    let size = 0;
    for (const [name, t] of all) {
      const ty = type(name);
      layout.push({ name, offset: size, t, type: ty });
      size += Math.ceil((numel(t.shape) * ELEM_BYTES[ty]) / ALIGN) * ALIGN;
    }
    const base = rt.ctx.malloc(Math.max(size, ALIGN));
    const weights = new Map<string, DeviceWeight>();
    try {
      for (const { name, offset, t, type: ty } of layout) {
        const ptr = base + BigInt(offset);
        const data = ty === 'f32' ? t.data : ty === 'f16' ? encodeFloat16(t.data) : encodeBFloat16(t.data);
        if (data.length > 0) rt.ctx.copyToDevice(ptr, data, rt.stream);
        weights.set(name, { ptr, dims: t.shape, type: ty });
      }
      rt.stream.synchronize();
    } catch (e) {
      rt.ctx.free(base);
      throw e;
    }
    return new DeviceWeights(rt, base, size, weights);
  }

  get(name: string): DeviceWeight | undefined {
    return this.weights.get(name);
  }

  /** Frees the device memory (once). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.rt.ctx.free(this.base);
  }
}
