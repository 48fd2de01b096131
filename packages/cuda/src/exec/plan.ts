import { BadInputError, type DType, type Graph, type Node, numel, type Value } from '@rwkv-streams/core';
import {
  CU_DEVICE_ATTRIBUTE,
  CU_EVENT_DISABLE_TIMING,
  CudaEvent,
  type CudaGraph,
  type DevicePtr,
} from '../driver/cuda-driver.js';
import {
  type AffineColumns,
  type AffineSplit,
  type AffineStages,
  affineColumns,
} from '../kernels/wkv7-chunk-affine.js';
import { useWkv7Decode } from '../kernels/wkv7-decode.js';
import type { CudaRuntime, Lane } from '../runtime.js';
import { applyConcatsInPlace, type ConcatInPlace, concatsInPlace } from './concat-in-place.js';
import { resolveGridDependency } from './dependent-launch.js';
import { groupGemvs } from './gemv-groups.js';
import { gemvColumnsFromEnv, gemvLoadsFromEnv } from './gemv-tiling.js';
import { halfActivations } from './half-activations.js';
import { type Access, type LaneSchedule, type LaneWork, scheduleLanes } from './lanes.js';
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
  lowerLinearAdd,
  lowerMatMul,
} from './lower/gemm.js';
import { lowerGemvGroup } from './lower/gemv-group.js';
import { lowerLayerNorm } from './lower/layer-norm.js';
import { lowerNormFused } from './lower/norm-fused.js';
import { lowerQShift } from './lower/q-shift.js';
import { lowerReduceSum } from './lower/reduce-sum.js';
import { lowerRowFused } from './lower/row-fused.js';
import {
  biWkv4ScratchBytes,
  lowerBiWkv4,
  lowerBiWkv6,
  lowerWkv4,
  lowerWkv5,
  lowerWkv7,
  useAffineWkv7,
  wkv7ScratchBytes,
} from './lower/wkv.js';
import { lowerWkv7Rows } from './lower/wkv7-rows.js';
import { MemoryPlanner } from './memory-plan.js';
import { fuseNormEpilogues } from './norm-epilogue.js';
import { accumulateResiduals } from './residual-gemm.js';
import { fuseRows, ROW_LIMITS } from './row-fusion.js';
import type { ShapeMap } from './shapes.js';
import { fuseSiblings } from './sibling-fusion.js';
import { contiguousSliceOffset, viewOwners } from './slice-alias.js';
import { gridDependentKernels, type Step } from './step.js';
import { buildUnits, MAX_RECOMPUTE, type Unit } from './units.js';
import { type DeviceWeights, ELEM_BYTES, type ElemType } from './weights.js';
import { foldRowsIntoWkv7, WKV7_ROWS_MAX_BATCH } from './wkv7-row-prologue.js';

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
  /**
   * Streams a plan spreads its independent units over (exec/lanes.ts): parallel branches
   * of its CUDA graph; 1 to 16. Default: RWKV_STREAMS_CUDA_LANES, else 4; 1 runs every
   * step in order on one stream.
   */
  readonly lanes?: number;
  /**
   * Merge sibling elementwise groups of one shape into one kernel each
   * (exec/sibling-fusion.ts). Default: when fusing, unless RWKV_STREAMS_CUDA_SIBLINGS=0 (a
   * knob for measuring). Measured on an H100 (2026-12-05): a 1.5B prefill replays in 9.49
   * ms instead of 10.04, decoding 1.01-1.03x; results equal unmerged plans bit for bit.
   */
  readonly fuseSiblings?: boolean;
  /**
   * Fuse each sum over the last axis with the elementwise ops around it into one kernel a
   * row (exec/row-fusion.ts). Default: when fusing, unless RWKV_STREAMS_CUDA_ROWS=0 (a
   * knob for measuring). Measured on an H100 (2026-12-05): a 1.5B decode step replays in
   * 2.20 ms instead of 2.39 (0.1B 0.62 instead of 0.72), prefill 1.05-1.07x; results equal
   * unfused plans within 1e-5 (float32 weights; the sums are reordered).
   */
  readonly fuseRows?: boolean;
  /**
   * With row fusion, fold a LayerNorm over a row unit's rows without weight or bias (RWKV-7's
   * per-head ln_x before the bonus chain) into that unit: one launch fewer a layer
   * (exec/row-fusion.ts). Default on, unless RWKV_STREAMS_CUDA_ROW_NORMS=0. Measured on an
   * H100 (2026-12-05, cuda-profile --row-norms): decode 1.01-1.03x, prefill T=512 1.02x
   * (0.1B) and 1.03x (1.5B).
   */
  readonly fuseRowNorms?: boolean;
  /**
   * With row fusion, let elementwise units that read an activation a row unit reads join
   * it (exec/row-fusion.ts; RWKV-7's k modification joins the L2 norm of k: one launch
   * fewer a layer). Default on, unless RWKV_STREAMS_CUDA_ROW_SIBLINGS=0. Measured on an H100
   * (2026-12-05, cuda-profile --row-siblings): decode batch 1 1.00-1.01x, batch 64 1.06x
   * (0.1B) and 1.01x (1.5B); prefill T=512 1.01x (0.1B) and 0.99x (1.5B, within the noise).
   */
  readonly fuseRowSiblings?: boolean;
  /**
   * With GEMV groups, a fused unit read by GEMVs only through slices of whole rows becomes
   * their prologue, each computing its own rows (exec/gemv-groups.ts; a decode step's six
   * token-shift mixes: one launch fewer a layer). Default off, unless
   * RWKV_STREAMS_CUDA_SLICED_PROLOGUES=1: measured on an H100 (2026-12-05, cuda-profile
   * --sliced-prologues), a 1.5B decode step took 1.907 ms with it and 1.790 without (0.94x;
   * 0.1B 0.99x): each of the seven projections then reads three rows (x, its shift, the
   * mix weights) per output column instead of one, which costs more than the launch saved.
   */
  readonly slicedPrologues?: boolean;
  /**
   * The most operands a GEMV prologue may read along the row (exec/gemv-groups.ts); a
   * prologue reading more runs as its own kernel. Default: any, unless
   * RWKV_STREAMS_CUDA_PROLOGUE_STREAMS says otherwise (not yet measured on a GPU).
   */
  readonly maxPrologueStreams?: number;
  /**
   * A LayerNorm of at most 64 rows and the elementwise group reading its result run as one
   * kernel (exec/norm-epilogue.ts; RWKV-7's ln1 and the six token-shift mixes of a decode
   * step: one launch fewer a layer). Default on, unless RWKV_STREAMS_CUDA_NORM_EPILOGUES=0.
   * Measured on an H100 (2026-12-05, cuda-profile --norm-epilogues): decode batch 1 1.02x
   * (0.1B) and 1.00x (1.5B), batch 64 1.04x at both; prefill unchanged.
   */
  readonly fuseNormEpilogues?: boolean;
  /**
   * Output columns each warp of a decode GEMV computes (kernels/gemv-group.ts `columns`): 1, 2
   * or 4; left out (and RWKV_STREAMS_CUDA_GEMV_COLUMNS unset or `auto`), chosen per group by
   * its largest matrix (exec/gemv-tiling.ts: 4 from 2048 x 2048 up, else 2).
   */
  readonly gemvColumns?: 1 | 2 | 4;
  /**
   * 16-byte weight loads each lane of a decode GEMV keeps in flight per column (1..16); left
   * out (and RWKV_STREAMS_CUDA_GEMV_LOADS unset or `auto`), chosen per group (2 with 4
   * columns on matrices from 2048 x 2048 up, else 4).
   */
  readonly gemvLoads?: number;
  /**
   * With row fusion, a row unit that makes a one-step Wkv7's k, a or b is computed inside
   * the Wkv7's kernel (exec/wkv7-row-prologue.ts; RWKV-7's L2 norm of k with the k
   * modification: one launch fewer a layer). Default: on for at most WKV7_ROWS_MAX_BATCH
   * streams, unless RWKV_STREAMS_CUDA_WKV7_ROWS is 0 (never) or 1 (at any batch). Measured on
   * an H100 (2026-12-05, cuda-profile --wkv7-rows): decode batch 1 1.06x (0.1B) and 1.02x
   * (1.5B); batch 64 1.00x (0.1B) and 0.93x (1.5B: the fused kernel's per-row work then
   * outweighs the launch it saves).
   */
  readonly wkv7RowPrologue?: boolean;
  /**
   * Run a one-step Wkv7 (decoding) with a warp per value row (kernels/wkv7-decode.ts)
   * instead of a block per head. Default on, unless RWKV_STREAMS_CUDA_WKV7_DECODE=0.
   * Measured on an H100 (2026-12-05, cuda-profile --wkv7-one-step): decode batch 1 0.1B
   * 0.510 -> 0.408 ms (1.25x), 1.5B 2.043 -> 1.849 (1.11x); batch 64 1.05x / 1.10x.
   */
  readonly wkv7OneStep?: boolean;
  /**
   * Walk a chunked Wkv7 (prefill, in the two-kernel form) with each chunk folded into an
   * affine map of the state (kernels/wkv7-chunk-affine.ts): one product a chunk on the walk's
   * path instead of four dependent phases. Default: when a head's rows are split over 2 or
   * more blocks (`useAffineWkv7`), unless RWKV_STREAMS_CUDA_WKV7_AFFINE is 0 (never) or 1 (always).
   */
  readonly wkv7Affine?: boolean;
  /** State columns a unit of the affine walk computes (default: `affineColumns()`). */
  readonly wkv7AffineColumns?: AffineColumns;
  /** Lanes that share a unit of the affine walk (default: `affineSplit(...)`, per head layout). */
  readonly wkv7AffineSplit?: AffineSplit;
  /** Buffers of chunk maps a block of the affine walk holds (default: `affineStages()`). */
  readonly wkv7AffineStages?: AffineStages;
  /**
   * Write a Concat's last input in place where it can (a batch-1 sequence's token shifts:
   * exec/concat-in-place.ts). Default: when fusing, unless RWKV_STREAMS_CUDA_CONCAT_IN_PLACE=0.
   * Measured on an H100 (2026-12-05): with residual GEMMs, a 1.5B prefill replays in 8.72 ms
   * instead of 8.87 (1.02x each alone), decode unchanged; the package's tests pass with it.
   */
  readonly concatInPlace?: boolean;
  /**
   * Fold a residual add into the cuBLAS GEMM before it (beta = 1, the sum stored in place of
   * the residual: exec/residual-gemm.ts). Default: when fusing, unless
   * RWKV_STREAMS_CUDA_RESIDUAL_GEMM=0. Measured on an H100 (2026-12-05): 1.5B prefill 1.02x
   * (with Concats in place, 8.87 -> 8.72 ms replayed), decode unchanged.
   */
  readonly accumulateResiduals?: boolean;
  /**
   * Let an elementwise group compute a member of a smaller shape that broadcasts to its
   * result, up to MAX_RECOMPUTE times over (exec/units.ts): RWKV-7's decode step computes
   * x_prev - x inside the six stacked token-shift mixes instead of in a launch of its own.
   * Default: when fusing, unless RWKV_STREAMS_CUDA_BROADCAST=0 (a knob for measuring).
   * Measured on an H100 (2026-12-05): decode steps replay 1.02-1.03x faster (1.5B 2.16
   * ms instead of 2.20), prefill unchanged; the package's tests pass with it on.
   */
  readonly fuseBroadcast?: boolean;
  /**
   * Launch the plan's own kernels as programmatic dependent launches on sm_90 and later
   * (kernels/grid-dependency.ts): each may start while the kernel before it ends, waits
   * for it on the GPU, and a GEMV issues its first weight loads before it waits. Default:
   * RWKV_STREAMS_CUDA_PDL (1 or 0), else on when every Linear takes at most 64 rows
   * (decoding up to 64 streams), where it was measured faster (exec/dependent-launch.ts).
   */
  readonly gridDependency?: boolean;
}

/**
 * The lane count a plan uses: the `lanes` option, else RWKV_STREAMS_CUDA_LANES, else 4.
 * Either must be an integer from 1 to 16 (a BadInputError names which one is wrong).
 */
export function resolveLanes(option?: number): number {
  const env = process.env['RWKV_STREAMS_CUDA_LANES'];
  const [field, value] =
    option !== undefined
      ? ['lanes', option]
      : env !== undefined && env !== ''
        ? ['RWKV_STREAMS_CUDA_LANES', Number(env)]
        : ['lanes', 4];
  if (!Number.isInteger(value) || value < 1 || value > 16)
    throw new BadInputError(
      `${field} must be an integer from 1 to 16, not '${option !== undefined ? option : env}'`,
      { field },
    );
  return value;
}

/** The events a plan on several lanes orders them with (created once per plan). */
interface LaneSync {
  readonly lanes: readonly Lane[];
  readonly fork: CudaEvent;
  /** Per lane 1..: its end, which lane 0 waits for. */
  readonly joins: readonly CudaEvent[];
  /** Per unit that another lane waits for: recorded after it. */
  readonly done: ReadonlyMap<number, CudaEvent>;
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
  private sync: LaneSync | undefined;
  /** Every step in plan order (one unit may lower to several). */
  readonly steps: readonly Step[];

  private constructor(
    private readonly rt: CudaRuntime,
    /** Each unit's steps, in plan order. */
    private readonly unitSteps: readonly (readonly Step[])[],
    /** Which lane each unit runs on and what it waits for. */
    readonly schedule: LaneSchedule,
    readonly buffers: ReadonlyMap<string, Buf>,
    private readonly arena: DevicePtr,
    /** Bytes of the arena (inputs, outputs, activations). */
    readonly arenaBytes: number,
    /** Units after fusion (for profiles and tests). */
    readonly units: readonly Unit[],
  ) {
    this.steps = unitSteps.flat();
  }

  static build(
    rt: CudaRuntime,
    graph: Graph,
    shapes: ShapeMap,
    weights: DeviceWeights,
    scalars: ReadonlyMap<string, number>,
    options: PlanOptions = {},
  ): Plan {
    const fuse = options.fuse ?? true;
    const broadcast = options.fuseBroadcast ?? process.env['RWKV_STREAMS_CUDA_BROADCAST'] !== '0';
    let units = buildUnits(graph, shapes, fuse, broadcast ? MAX_RECOMPUTE : 1);
    const sliced = options.slicedPrologues ?? process.env['RWKV_STREAMS_CUDA_SLICED_PROLOGUES'] === '1';
    // Whether a Linear on a stored weight runs as our GEMV (true) or cuBLAS (false); undefined
    // when its weight is not one of the plan's.
    const runsGemv = (n: Node): boolean | undefined => {
      const w = weights.get(n.inputs[1]!.name);
      const x = shapes.get(n.inputs[0]!.name)!;
      const k = x[x.length - 1] ?? 0;
      return w === undefined || k === 0 ? undefined : linearRunsGemv(numelOf(x) / k, k, w.type);
    };
    if (fuse && (options.groupGemv ?? process.env['RWKV_STREAMS_CUDA_GROUP_GEMV'] !== '0'))
      units = groupGemvs(units, graph, shapes, (n) => runsGemv(n) === true, {
        ...(sliced ? { sliceOffset: (n: Node) => contiguousSliceOffset(n, shapes, scalars) } : {}),
        maxPrologueStreams: options.maxPrologueStreams ?? prologueStreamsFromEnv(),
      });
    const half = halfActivations(
      graph,
      units,
      shapes,
      (name) => weights.get(name) !== undefined,
      (n, sh) => linearHalfInput(sh.get(n.inputs[0]!.name)!, weights.get(n.inputs[1]!.name)!.type),
      (n) => contiguousSliceOffset(n, shapes, scalars) !== undefined,
    );
    // Row fusion after GEMV grouping (GEMV prologues and epilogues cost no launch; they keep
    // what they took) and half activations (stored values keep their chosen types), before
    // sibling fusion (a row kernel takes whole chains; siblings merge what is left).
    if (fuse && (options.fuseRows ?? process.env['RWKV_STREAMS_CUDA_ROWS'] !== '0'))
      units = fuseRows(units, graph, shapes, ROW_LIMITS, {
        foldNorms: options.fuseRowNorms ?? process.env['RWKV_STREAMS_CUDA_ROW_NORMS'] !== '0',
        siblings: options.fuseRowSiblings ?? process.env['RWKV_STREAMS_CUDA_ROW_SIBLINGS'] !== '0',
      });
    const rowsIntoWkv7 = options.wkv7RowPrologue ?? wkv7RowsFromEnv();
    if (fuse && rowsIntoWkv7 !== false)
      units = foldRowsIntoWkv7(
        units,
        graph,
        shapes,
        (B, N) => useWkv7Decode(1, N, options.wkv7OneStep) && (rowsIntoWkv7 || B <= WKV7_ROWS_MAX_BATCH),
      );
    if (fuse && (options.fuseNormEpilogues ?? process.env['RWKV_STREAMS_CUDA_NORM_EPILOGUES'] !== '0'))
      units = fuseNormEpilogues(units, graph, shapes);
    if (fuse && (options.fuseSiblings ?? process.env['RWKV_STREAMS_CUDA_SIBLINGS'] !== '0'))
      units = fuseSiblings(units, graph, shapes);
    if (fuse && (options.accumulateResiduals ?? process.env['RWKV_STREAMS_CUDA_RESIDUAL_GEMM'] !== '0'))
      units = accumulateResiduals(
        units,
        graph,
        shapes,
        (n) => runsGemv(n) === false && !half.has(n.outputs[0]!.name),
        (v) => !half.has(v.name) && v.dtype === 'float32',
      );
    const laneCount = resolveLanes(options.lanes);
    const wkv7Affine = options.wkv7Affine;
    const wkv7AffineColumns = options.wkv7AffineColumns ?? affineColumns();
    // Lifetimes: the last unit reading each value (aliases extend their source's life).
    const { root, viewAt, views } = viewOwners(units, shapes, scalars);
    const owner = (name: string) => root.get(name) ?? name;
    const typeOf = (v: Value): ElemType => half.get(v.name) ?? elemType(v.dtype);
    // A batch-1 sequence's token shifts: x written one row into the Concat's result, so
    // the Concat copies only the previous token (exec/concat-in-place.ts).
    const hosts =
      fuse && (options.concatInPlace ?? process.env['RWKV_STREAMS_CUDA_CONCAT_IN_PLACE'] !== '0')
        ? applyConcatsInPlace(
            concatsInPlace(
              units,
              graph,
              shapes,
              { root, viewAt },
              typeOf,
              (n) => weights.get(n) !== undefined,
            ),
            { root, viewAt },
          )
        : new Map<string, ConcatInPlace>();
    const lastUse = new Map<string, number>();
    units.forEach((u, i) => {
      for (const v of u.inputs) lastUse.set(owner(v.name), i);
    });
    const pinned = new Set<string>([...graph.inputs, ...graph.outputs].map((v) => owner(v.name)));
    const planner = new MemoryPlanner();
    const offsets = new Map<string, number>();
    const types = new Map<string, ElemType>();
    const bytesOf = (v: Value) => numelOf(shapes.get(v.name)!) * ELEM_BYTES[typeOf(v)];
    for (const v of graph.inputs) {
      offsets.set(v.name, planner.place(bytesOf(v), 0, Number.POSITIVE_INFINITY));
      types.set(v.name, elemType(v.dtype));
    }
    const scratchAt = new Map<number, { offset: number; bytes: number }>();
    units.forEach((u, i) => {
      for (const o of u.outputs) {
        types.set(o.name, typeOf(o));
        // a view's memory is its owner's, placed with the owner; a Concat result hosting
        // a moved buffer is placed where that buffer is defined, before the Concat
        const r = owner(o.name);
        if (offsets.has(r) || (r !== o.name && !hosts.has(r))) continue;
        const until = pinned.has(r) ? Number.POSITIVE_INFINITY : (lastUse.get(r) ?? i);
        const host = hosts.get(r);
        const bytes = host === undefined ? bytesOf(o) : host.elements * ELEM_BYTES[typeOf(host.concat)];
        offsets.set(r, planner.place(bytes, i, until));
      }
      let scratch = 0;
      if ((u.kind === 'node' && u.node.op === 'Linear') || u.kind === 'linearAdd') {
        const w = weights.get(u.inputs[1]!.name);
        scratch = linearScratchBytes(
          shapes.get(u.inputs[0]!.name)!,
          w?.type ?? 'f32',
          half.has(u.inputs[0]!.name),
        );
      }
      if (u.kind === 'node' && u.node.op === 'BiWkv4')
        scratch = biWkv4ScratchBytes(shapes.get(u.inputs[0]!.name)!);
      if (u.kind === 'node' && u.node.op === 'Wkv7') {
        const dims = shapes.get(u.inputs[0]!.name)!;
        const sms = rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT);
        scratch = wkv7ScratchBytes(dims, useAffineWkv7(dims, sms, wkv7Affine));
      }
      if (scratch > 0) scratchAt.set(i, { offset: planner.place(scratch, i, i), bytes: scratch });
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
      const unitSteps: Step[][] = [];
      const kernels = resolveGridDependency(options.gridDependency, graph, shapes)
        ? gridDependentKernels(rt)
        : rt;
      // read once for the plan (not once a unit)
      const gemvColumns = options.gemvColumns ?? gemvColumnsFromEnv();
      const gemvLoads = options.gemvLoads ?? gemvLoadsFromEnv();
      units.forEach((u, i) => {
        const ctx: LowerContext = {
          rt: kernels,
          buf,
          scratch: () => {
            const at = scratchAt.get(i);
            if (at === undefined) throw new BadInputError('this unit asked for no scratch memory');
            return arena + BigInt(at.offset);
          },
          scalar: (name) => scalars.get(name),
          ...(options.wkv7OneStep === undefined ? {} : { wkv7OneStep: options.wkv7OneStep }),
          ...(wkv7Affine === undefined ? {} : { wkv7Affine }),
          wkv7AffineColumns,
          ...(options.wkv7AffineSplit === undefined ? {} : { wkv7AffineSplit: options.wkv7AffineSplit }),
          ...(options.wkv7AffineStages === undefined ? {} : { wkv7AffineStages: options.wkv7AffineStages }),
          gemvColumns,
          gemvLoads,
          dims: (v) => {
            const d = shapes.get(v.name);
            if (!d) throw new BadInputError(`value '${v.name}' has no shape in the plan`, { field: v.name });
            return d;
          },
        };
        for (const o of u.outputs) buf(o);
        unitSteps.push(views.has(u) ? [] : lowerUnit(ctx, u));
      });
      for (const v of graph.inputs) buf(v);
      // What each unit touches in the arena, for spreading units over lanes.
      const work: LaneWork[] = units.map((u, i) => {
        if (unitSteps[i]!.length === 0) return { accesses: [], cost: 0 };
        const accesses: Access[] = [];
        let bytes = 0;
        const touch = (v: Value, write: boolean) => {
          const b = buf(v);
          const n = numelOf(b.dims) * ELEM_BYTES[b.type];
          bytes += n;
          const start = Number(b.ptr - arena);
          if (b.ptr >= arena && start < arenaBytes) accesses.push({ start, end: start + n, write });
        };
        for (const v of u.inputs) touch(v, false);
        for (const v of u.outputs) touch(v, true);
        const sc = scratchAt.get(i);
        if (sc) {
          accesses.push({ start: sc.offset, end: sc.offset + sc.bytes, write: true });
          bytes += sc.bytes;
        }
        let flops = 0;
        if (
          (u.kind === 'node' && (u.node.op === 'Linear' || u.node.op === 'MatMul')) ||
          u.kind === 'linearAdd'
        )
          flops = 2 * numelOf(buf(u.outputs[0]!).dims) * (buf(u.inputs[0]!).dims.at(-1) ?? 1);
        // ~microseconds on a large GPU: a launch, bytes at ~2 TB/s, flops at ~200 TFLOP/s
        return { accesses, cost: 2 + bytes / 2e6 + flops / 2e8 };
      });
      const schedule = scheduleLanes(work, laneCount);
      return new Plan(rt, unitSteps, schedule, buffers, arena, arenaBytes, units);
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
          this.enqueueSteps();
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
    this.enqueueSteps();
  }

  /**
   * Every step on its lane: the side lanes fork from lane 0 (they wait for what lane 0 had
   * before the plan), wait for the units of other lanes they conflict with, and lane 0
   * joins them at the end, so whatever follows on lane 0 sees the whole plan done.
   */
  private enqueueSteps(): void {
    const main = this.rt.lane(0);
    if (this.schedule.lanesUsed === 1) {
      for (const s of this.steps) s.enqueue(main);
      return;
    }
    const sync = this.laneSync();
    sync.fork.record(main.stream);
    for (let l = 1; l < sync.lanes.length; l++) sync.lanes[l]!.stream.waitEvent(sync.fork);
    const { lane, waits } = this.schedule;
    this.unitSteps.forEach((steps, u) => {
      const on = sync.lanes[lane[u]!]!;
      for (const w of waits[u]!) on.stream.waitEvent(sync.done.get(w)!);
      for (const s of steps) s.enqueue(on);
      sync.done.get(u)?.record(on.stream);
    });
    for (let l = 1; l < sync.lanes.length; l++) {
      sync.joins[l - 1]!.record(sync.lanes[l]!.stream);
      main.stream.waitEvent(sync.joins[l - 1]!);
    }
  }

  private laneSync(): LaneSync {
    if (this.sync) return this.sync;
    const event = () => CudaEvent.create(CU_EVENT_DISABLE_TIMING);
    const n = this.schedule.lanesUsed;
    const done = new Map<number, CudaEvent>();
    for (const w of this.schedule.waits) for (const u of w) if (!done.has(u)) done.set(u, event());
    this.sync = {
      lanes: Array.from({ length: n }, (_, l) => this.rt.lane(l)),
      fork: event(),
      joins: Array.from({ length: n - 1 }, event),
      done,
    };
    return this.sync;
  }

  /**
   * Runs the plan once eagerly, in order on lane 0, with an event between steps and returns each step's GPU
   * time (for profiles: which ops the time goes to). Inputs are whatever the arena holds.
   */
  profile(): { label: string; ms: number }[] {
    const events = [CudaEvent.create()];
    events[0]!.record(this.rt.stream);
    const main = this.rt.lane(0);
    for (const s of this.steps) {
      s.enqueue(main);
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
    if (this.sync) {
      // the lanes' last use of the events and the arena must be over
      for (const l of this.sync.lanes) l.stream.synchronize();
      for (const e of [this.sync.fork, ...this.sync.joins, ...this.sync.done.values()]) e.dispose();
    }
    this.rt.ctx.free(this.arena);
  }
}

function lowerUnit(ctx: LowerContext, u: Unit): Step[] {
  if (u.kind === 'fused' || u.kind === 'fusedMany') return lowerFused(ctx, u);
  if (u.kind === 'gemv') return lowerGemvGroup(ctx, u);
  if (u.kind === 'rowFused') return lowerRowFused(ctx, u);
  if (u.kind === 'normFused') return lowerNormFused(ctx, u);
  if (u.kind === 'wkv7Rows') return lowerWkv7Rows(ctx, u);
  if (u.kind === 'linearAdd') return lowerLinearAdd(ctx, u.linear, u.inputs[2], u.outputs[0]);
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
      enqueue: (lane) => ctx.rt.ctx.copyDeviceAsync(y.ptr, x.ptr, bytes, lane.stream),
    },
  ];
}

/** RWKV_STREAMS_CUDA_PROLOGUE_STREAMS: a count (0 or more), else any (unset). */
function prologueStreamsFromEnv(): number {
  const v = process.env['RWKV_STREAMS_CUDA_PROLOGUE_STREAMS'];
  if (v === undefined || v === '') return Number.POSITIVE_INFINITY;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new BadInputError(`RWKV_STREAMS_CUDA_PROLOGUE_STREAMS must be a count (0, 1, 2, ...), not '${v}'`, {
      field: 'RWKV_STREAMS_CUDA_PROLOGUE_STREAMS',
    });
  return n;
}

/**
 * RWKV_STREAMS_CUDA_WKV7_ROWS: 0 (never), 1 (at any batch); unset: undefined (up to
 * WKV7_ROWS_MAX_BATCH streams).
 */
function wkv7RowsFromEnv(): boolean | undefined {
  const v = process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'];
  if (v === undefined || v === '') return undefined;
  if (v === '0' || v === '1') return v === '1';
  throw new BadInputError(`RWKV_STREAMS_CUDA_WKV7_ROWS must be 0 or 1, not '${v}'`, {
    field: 'RWKV_STREAMS_CUDA_WKV7_ROWS',
  });
}
