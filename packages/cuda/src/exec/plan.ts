import { BadInputError, type DType, type Graph, numel, type Value } from '@rwkv-streams/core';
import { CudaEvent, type CudaGraph, type DevicePtr } from '../driver/cuda-driver.js';
import type { CudaRuntime } from '../runtime.js';
import { groupGemvs } from './gemv-groups.js';
import { halfActivations } from './half-activations.js';
import { lowerCast } from './lower/cast.js';
import { type Buf, type LowerContext, numelOf } from './lower/context.js';
import { lowerConcat, lowerSlice, lowerTranspose } from './lower/copy.js';
import { lowerFused } from './lower/elementwise.js';
import { lowerGather } from './lower/gather.js';
import {
  linearHalfInput,
  linearRunsGemv,
  linearScratchBytes,
  lowerLinear,
  lowerMatMul,
} from './lower/gemm.js';
import { lowerGemvGroup } from './lower/gemv-group.js';
import { lowerLayerNorm } from './lower/layer-norm.js';
import { lowerQShift } from './lower/q-shift.js';
import { lowerReduceSum } from './lower/reduce-sum.js';
import {
  biWkv4ScratchBytes,
  lowerBiWkv4,
  lowerBiWkv6,
  lowerWkv4,
  lowerWkv5,
  lowerWkv7,
  wkv7ScratchBytes,
} from './lower/wkv.js';
import { MemoryPlanner } from './memory-plan.js';
import type { ShapeMap } from './shapes.js';
import { contiguousSliceOffset } from './slice-alias.js';
import type { Step } from './step.js';
import { buildUnits, isAlias, type Unit } from './units.js';
import { type DeviceWeights, ELEM_BYTES, type ElemType } from './weights.js';

/** How plans are built. */
export interface PlanOptions {
  /** Fuse elementwise chains into generated kernels (default true). */
  readonly fuse?: boolean;
  /**
   * Run independent half-weight GEMVs (decoding) as grouped kernels with their
   * elementwise neighbours absorbed (exec/gemv-groups.ts; default: when fusing, unless
   * RWKV_STREAMS_CUDA_GROUP_GEMV=0, a knob for measuring).
   */
  readonly groupGemv?: boolean;
}

function elemType(d: DType): ElemType {
  return d === 'int32' ? 'i32' : 'f32';
}

/**
 * Everything one call shape needs, fixed once: concrete shapes, the units, one arena
 * holding every input, output and activation at planned offsets, and the steps with
 * their pointers. Replayed as is for every call of that shape, eagerly or as a CUDA
 * graph recorded on the second call.
 */
export class Plan {
  private graphExec: CudaGraph | undefined;
  private runs = 0;
  private disposed = false;

  private constructor(
    private readonly rt: CudaRuntime,
    readonly steps: readonly Step[],
    readonly buffers: ReadonlyMap<string, Buf>,
    private readonly arena: DevicePtr,
    /** Bytes of the arena (inputs, outputs, activations). */
    readonly arenaBytes: number,
    /** Units after fusion (for profiles and tests). */
    readonly units: readonly Unit[],
  ) {}

  static build(
    rt: CudaRuntime,
    graph: Graph,
    shapes: ShapeMap,
    weights: DeviceWeights,
    scalars: ReadonlyMap<string, number>,
    options: PlanOptions = {},
  ): Plan {
    const fuse = options.fuse ?? true;
    let units = buildUnits(graph, shapes, fuse);
    if (fuse && (options.groupGemv ?? process.env['RWKV_STREAMS_CUDA_GROUP_GEMV'] !== '0'))
      units = groupGemvs(units, graph, shapes, (n) => {
        const w = weights.get(n.inputs[1]!.name);
        const x = shapes.get(n.inputs[0]!.name)!;
        const k = x[x.length - 1] ?? 0;
        return w !== undefined && k > 0 && linearRunsGemv(numelOf(x) / k, k, w.type);
      });
    const half = halfActivations(
      graph,
      units,
      shapes,
      (name) => weights.get(name) !== undefined,
      (n, sh) => linearHalfInput(sh.get(n.inputs[0]!.name)!, weights.get(n.inputs[1]!.name)!.type),
      (n) => contiguousSliceOffset(n, shapes, scalars) !== undefined,
    );
    // Lifetimes: the last unit reading each value (aliases extend their source's life).
    const root = new Map<string, string>(); // alias value -> the value owning the memory
    const owner = (name: string) => root.get(name) ?? name;
    const viewAt = new Map<string, number>(); // alias value -> element offset in its owner
    const views = new Set<Unit>(); // slices that are views: nothing runs
    units.forEach((u) => {
      if (u.kind !== 'node') return;
      const [x, y] = [u.inputs[0]!.name, u.outputs[0]!.name];
      const at = isAlias(u.node.op) ? 0 : contiguousSliceOffset(u.node, shapes, scalars);
      if (at === undefined) return;
      root.set(y, owner(x));
      viewAt.set(y, (viewAt.get(x) ?? 0) + at);
      if (!isAlias(u.node.op)) views.add(u);
    });
    const lastUse = new Map<string, number>();
    units.forEach((u, i) => {
      for (const v of u.inputs) lastUse.set(owner(v.name), i);
    });
    const pinned = new Set<string>([...graph.inputs, ...graph.outputs].map((v) => owner(v.name)));
    const planner = new MemoryPlanner();
    const offsets = new Map<string, number>();
    const types = new Map<string, ElemType>();
    const typeOf = (v: Value): ElemType => half.get(v.name) ?? elemType(v.dtype);
    const bytesOf = (v: Value) => numelOf(shapes.get(v.name)!) * ELEM_BYTES[typeOf(v)];
    for (const v of graph.inputs) {
      offsets.set(v.name, planner.place(bytesOf(v), 0, Number.POSITIVE_INFINITY));
      types.set(v.name, elemType(v.dtype));
    }
    const scratchAt = new Map<number, number>();
    units.forEach((u, i) => {
      for (const o of u.outputs) {
        types.set(o.name, typeOf(o));
        if (root.has(o.name) || offsets.has(o.name)) continue;
        const until = pinned.has(o.name) ? Number.POSITIVE_INFINITY : (lastUse.get(o.name) ?? i);
        offsets.set(o.name, planner.place(bytesOf(o), i, until));
      }
      let scratch = 0;
      if (u.kind === 'node' && u.node.op === 'Linear') {
        const w = weights.get(u.inputs[1]!.name);
        scratch = linearScratchBytes(
          shapes.get(u.inputs[0]!.name)!,
          w?.type ?? 'f32',
          half.has(u.inputs[0]!.name),
        );
      }
      if (u.kind === 'node' && u.node.op === 'BiWkv4')
        scratch = biWkv4ScratchBytes(shapes.get(u.inputs[0]!.name)!);
      if (u.kind === 'node' && u.node.op === 'Wkv7')
        scratch = wkv7ScratchBytes(shapes.get(u.inputs[0]!.name)!);
      if (scratch > 0) scratchAt.set(i, planner.place(scratch, i, i));
    });
    const arenaBytes = planner.arenaBytes;
    const arena = rt.ctx.malloc(Math.max(arenaBytes, 256));
    try {
      const buffers = new Map<string, Buf>();
      const buf = (v: Value): Buf => {
        const known = buffers.get(v.name);
        if (known) return known;
        const w = weights.get(owner(v.name));
        const at = viewAt.get(v.name) ?? 0;
        let b: Buf;
        if (w)
          b = {
            ptr: w.ptr + BigInt(at * ELEM_BYTES[w.type]),
            dims: shapes.get(v.name) ?? w.dims,
            type: w.type,
          };
        else {
          const off = offsets.get(owner(v.name));
          if (off === undefined)
            throw new BadInputError(`value '${v.name}' has no memory in the plan`, { field: v.name });
          const type = types.get(v.name) ?? elemType(v.dtype);
          b = { ptr: arena + BigInt(off + at * ELEM_BYTES[type]), dims: shapes.get(v.name)!, type };
        }
        buffers.set(v.name, b);
        return b;
      };
      const steps: Step[] = [];
      units.forEach((u, i) => {
        const ctx: LowerContext = {
          rt,
          buf,
          scratch: () => {
            const off = scratchAt.get(i);
            if (off === undefined) throw new BadInputError('this unit asked for no scratch memory');
            return arena + BigInt(off);
          },
          scalar: (name) => scalars.get(name),
          dims: (v) => {
            const d = shapes.get(v.name);
            if (!d) throw new BadInputError(`value '${v.name}' has no shape in the plan`, { field: v.name });
            return d;
          },
        };
        for (const o of u.outputs) buf(o);
        if (!views.has(u)) steps.push(...lowerUnit(ctx, u));
      });
      for (const v of graph.inputs) buf(v);
      return new Plan(rt, steps, buffers, arena, arenaBytes, units);
    } catch (e) {
      rt.ctx.free(arena);
      throw e;
    }
  }

  /**
   * Enqueues the plan's work on the runtime's stream: eagerly on the first call, then
   * recorded once as a CUDA graph and replayed (one launch instead of one per step).
   */
  enqueue(useGraphs: boolean): void {
    this.runs++;
    if (useGraphs && this.runs >= 2) {
      if (!this.graphExec) {
        this.rt.stream.beginCapture();
        try {
          for (const s of this.steps) s.enqueue();
        } catch (e) {
          try {
            this.rt.stream.endCapture().dispose();
          } catch {
            // the capture is invalid anyway
          }
          throw e;
        }
        this.graphExec = this.rt.stream.endCapture();
      }
      this.graphExec.launch(this.rt.stream);
      return;
    }
    for (const s of this.steps) s.enqueue();
  }

  /**
   * Runs the plan once eagerly with an event between steps and returns each step's GPU
   * time (for profiles: which ops the time goes to). Inputs are whatever the arena holds.
   */
  profile(): { label: string; ms: number }[] {
    const events = [CudaEvent.create()];
    events[0]!.record(this.rt.stream);
    for (const s of this.steps) {
      s.enqueue();
      const e = CudaEvent.create();
      e.record(this.rt.stream);
      events.push(e);
    }
    events[events.length - 1]!.synchronize();
    const out = this.steps.map((s, i) => ({ label: s.label, ms: events[i + 1]!.elapsedSince(events[i]!) }));
    for (const e of events) e.dispose();
    return out;
  }

  /** Frees the arena and the recorded graph. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graphExec?.dispose();
    this.rt.ctx.free(this.arena);
  }
}

function lowerUnit(ctx: LowerContext, u: Unit): Step[] {
  if (u.kind === 'fused') return lowerFused(ctx, u);
  if (u.kind === 'gemv') return lowerGemvGroup(ctx, u);
  const n = u.node;
  switch (n.op) {
    case 'Reshape':
    case 'Squeeze':
    case 'Identity':
      return aliasOrCopy(ctx, u);
    case 'LayerNorm':
      return lowerLayerNorm(ctx, n);
    case 'Gather':
      return lowerGather(ctx, n);
    case 'Linear':
      return lowerLinear(ctx, n);
    case 'MatMul':
      return lowerMatMul(ctx, n);
    case 'Transpose':
      return lowerTranspose(ctx, n);
    case 'Slice':
    case 'SliceFrom':
      return lowerSlice(ctx, n);
    case 'Concat':
      return lowerConcat(ctx, n);
    case 'ReduceSum':
      return lowerReduceSum(ctx, n);
    case 'Cast':
      return lowerCast(ctx, n);
    case 'BiWkv4':
      return lowerBiWkv4(ctx, n);
    case 'BiWkv6':
      return lowerBiWkv6(ctx, n);
    case 'QShift':
      return lowerQShift(ctx, n);
    case 'Wkv4':
      return lowerWkv4(ctx, n);
    case 'Wkv5':
      return lowerWkv5(ctx, n);
    case 'Wkv7':
      return lowerWkv7(ctx, n);
    default:
      throw new BadInputError(`the CUDA backend has no lowering for op ${n.op}`, {
        field: n.outputs[0]?.name ?? n.op,
      });
  }
}

/** Reshape, Squeeze and Identity share their input's memory: nothing runs. */
function aliasOrCopy(ctx: LowerContext, u: Unit): Step[] {
  const x = ctx.buf(u.inputs[0]!);
  const y = ctx.buf(u.outputs[0]!);
  if (x.ptr === y.ptr) return [];
  const bytes = numel(x.dims as number[]) * ELEM_BYTES[x.type];
  return [
    {
      label: `copy -> ${u.outputs[0]!.name}`,
      enqueue: () => ctx.rt.ctx.copyDeviceAsync(y.ptr, x.ptr, bytes, ctx.rt.stream),
    },
  ];
}
