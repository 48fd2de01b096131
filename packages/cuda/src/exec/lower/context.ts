import type { Value } from '@rwkv-streams/core';
import type { DevicePtr } from '../../driver/cuda-driver.js';
import type { AffineColumns, AffineSplit, AffineStages } from '../../kernels/wkv7-chunk-affine.js';
import type { KernelHost } from '../step.js';
import type { ElemType } from '../weights.js';

/** A value's memory during a plan: a weight, an input, an output or an activation. */
export interface Buf {
  readonly ptr: DevicePtr;
  readonly dims: readonly number[];
  readonly type: ElemType;
}

/** What a lowering sees of the plan being built. */
export interface LowerContext {
  /** Kernels and the context (with programmatic dependent launch when the plan uses it). */
  readonly rt: KernelHost;
  /** The memory of a value (inputs, weights, earlier outputs, this unit's outputs). */
  buf(v: Value): Buf;
  /** A value's concrete dims (also for values a fused kernel computes without storing). */
  dims(v: Value): readonly number[];
  /** This unit's scratch memory (as many bytes as `scratchBytes` asked for). */
  scratch(): DevicePtr;
  /** Host value of an int32 [1] graph input (SliceFrom's start). */
  scalar(name: string): number | undefined;
  /** A one-step Wkv7 takes the warp-a-row kernel (PlanOptions.wkv7OneStep; default: its variable). */
  readonly wkv7OneStep?: boolean;
  /** A chunked Wkv7 walks its chunks as affine maps (PlanOptions.wkv7Affine; left out: `useAffineWkv7`'s default). */
  readonly wkv7Affine?: boolean;
  /** State columns a thread of the affine walk computes (PlanOptions.wkv7AffineColumns, resolved). */
  readonly wkv7AffineColumns?: AffineColumns;
  /** Lanes a unit of the affine walk (PlanOptions.wkv7AffineSplit; default: per head layout). */
  readonly wkv7AffineSplit?: AffineSplit;
  /** Buffers of chunk maps in the affine walk (PlanOptions.wkv7AffineStages; default: `affineStages()`). */
  readonly wkv7AffineStages?: AffineStages;
  /** Output columns a warp of a GEMV group computes (PlanOptions.gemvColumns; default: per group). */
  readonly gemvColumns?: 1 | 2 | 4 | undefined;
  /** Weight loads a GEMV lane keeps in flight per column (PlanOptions.gemvLoads; default: per group). */
  readonly gemvLoads?: number | undefined;
}

/** Product of dims. */
export function numelOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
