import {
  BadInputError,
  type Carry,
  type CompiledGraph,
  checkOutputArray,
  DisposedError,
  type Graph,
  type GraphSession,
  type InitialValue,
  type OutputArrays,
  ShapeMismatchError,
  type TensorValue,
  type Value,
} from '@rwkv-streams/core';
import type { DevicePtr } from '../driver/cuda-driver.js';
import { COPY_SEGMENTS, COPY_SEGMENTS_THREADS, copySegmentsBlocksX } from '../kernels/copy-segments.js';
import type { CudaRuntime } from '../runtime.js';
import { numelOf } from './lower/context.js';
import { Plan, type PlanOptions } from './plan.js';
import { inferShapes } from './shapes.js';
import { kernelStep, type Step } from './step.js';
import type { DeviceWeights } from './weights.js';

/** How an executable runs its plans. */
export interface ExecutableOptions extends PlanOptions {
  /** Record each plan as a CUDA graph on its second call and replay it (default true). */
  readonly graphs?: boolean;
  /** Plans (call shapes) kept at once; the least recently used is freed beyond (default 8). */
  readonly maxPlans?: number;
}

/** A session's carried values on the device. */
interface DeviceCarry {
  readonly carry: Carry;
  readonly dims: Map<string, readonly number[]>;
  readonly buffers: Map<string, { readonly ptr: DevicePtr; readonly bytes: number }>;
  /** Per plan: the carried values' copies into its inputs and back from its outputs. */
  readonly moves: Map<Plan, CarryMoves>;
  /** Output arrays (`into`) page-locked for this session, oldest first (see `pinOutputs`). */
  readonly pinned: Set<Float32Array | Int32Array>;
}

/**
 * `into` arrays of at least this many bytes are page-locked for the session's life: a copy
 * into locked memory runs at the link's speed (64 streams' logits, 16 MB, took 1.5 ms into a
 * reused pageable array on an H200 host) and is queued behind the step, so one wait covers
 * both. One stream's logits (256 KB at a vocabulary of 65536) are above it.
 */
const PIN_BYTES = 64 << 10;
/** At most this many arrays per session stay locked (a caller alternating a few is served). */
const PIN_MAX = 4;

/** Two launches moving every carried value (kernels/copy-segments.ts). */
interface CarryMoves {
  readonly into?: Step;
  readonly back?: Step;
  /** The device memory of both segment tables. */
  readonly table: DevicePtr;
  /** Their host copy, kept while its asynchronous upload may still read it. */
  readonly words: BigUint64Array;
}

const scalarInputs = new WeakMap<Graph, ReadonlySet<string>>();

/**
 * The int32 [1] inputs whose host value decides shapes (SliceFrom's start: a sequence
 * graph's `logits_from`), and so belongs in the plan key. Only those: a decode step's
 * `tokens` of one stream is also int32 [1], and keying plans by it built and recorded a
 * new plan for every distinct token (about 20 ms a token at 0.1B, measured on an H200).
 */
export function shapeScalars(graph: Graph): ReadonlySet<string> {
  let known = scalarInputs.get(graph);
  if (!known) {
    known = new Set(graph.nodes.filter((n) => n.op === 'SliceFrom').map((n) => n.inputs[1]!.name));
    scalarInputs.set(graph, known);
  }
  return known;
}

/** Which graph serves a call: always one, or chosen by the time length of an input. */
export type GraphChoice =
  | { readonly kind: 'one'; readonly graph: Graph }
  | { readonly kind: 'byTime'; readonly step: Graph; readonly sequence: Graph; readonly timeInput: string };

/**
 * A compiled graph on the CUDA backend: device weights plus one plan per call shape.
 * A call uploads the inputs into the plan's arena, enqueues the plan (a CUDA graph after
 * the first call of a shape), waits without blocking the event loop and downloads the
 * outputs. Calls on one device are serialized.
 */
export class CudaExecutable implements CompiledGraph {
  private readonly plans = new Map<string, Plan>();
  private disposed = false;
  /** Names of every input either graph takes (made on first use). */
  private accepted: ReadonlySet<string> | undefined;

  constructor(
    private readonly rt: CudaRuntime,
    private readonly choice: GraphChoice,
    private readonly weights: DeviceWeights,
    private readonly options: ExecutableOptions = {},
  ) {}

  run(inputs: Readonly<Record<string, TensorValue>>): Promise<Record<string, TensorValue>> {
    return this.rt.exclusive(() => this.runNow(inputs));
  }

  /** The plan a call with these inputs uses (built if new): for tests and profiles. */
  planFor(inputs: Readonly<Record<string, TensorValue>>): Plan {
    return this.prepare(inputs).plan;
  }

  private prepare(
    inputs: Readonly<Record<string, TensorValue>>,
    carried: ReadonlyMap<string, readonly number[]> = new Map(),
  ): { graph: Graph; plan: Plan } {
    if (this.disposed) throw new DisposedError('CudaExecutable');
    const graph = this.pick(inputs);
    const dims = new Map<string, readonly number[]>();
    const scalars = new Map<string, number>();
    for (const v of graph.inputs) {
      const held = carried.get(v.name);
      if (held) {
        dims.set(v.name, held);
        continue;
      }
      const t = inputs[v.name];
      if (!t) throw new BadInputError(`missing input '${v.name}'`, { field: v.name });
      if (t.dtype !== v.dtype)
        throw new BadInputError(`input '${v.name}' is ${t.dtype}, the graph takes ${v.dtype}`, {
          field: v.name,
        });
      const want = t.dims.reduce((a, b) => a * b, 1);
      const typed = v.dtype === 'int32' ? t.data instanceof Int32Array : t.data instanceof Float32Array;
      if (!typed)
        throw new BadInputError(
          `input '${v.name}' data must be ${v.dtype === 'int32' ? 'Int32Array' : 'Float32Array'}`,
          {
            field: v.name,
          },
        );
      if (t.data.length !== want)
        throw new ShapeMismatchError(`input '${v.name}' has ${t.data.length} values for dims [${t.dims}]`, {
          field: v.name,
        });
      dims.set(v.name, t.dims);
      if (v.dtype === 'int32' && want === 1 && shapeScalars(graph).has(v.name))
        scalars.set(v.name, t.data[0]!);
    }
    // Both graphs of a by-time executable take the union of their inputs (as one ONNX If does).
    this.accepted ??= new Set(
      (this.choice.kind === 'one' ? [this.choice.graph] : [this.choice.step, this.choice.sequence]).flatMap(
        (g) => g.inputs.map((v) => v.name),
      ),
    );
    for (const name of Object.keys(inputs))
      if (!this.accepted.has(name))
        throw new BadInputError(`unknown input '${name}' (graph '${graph.name}')`, { field: name });
    const key = `${graph.name}|${graph.inputs.map((v) => `${dims.get(v.name)!.join('x')}${scalars.has(v.name) ? `=${scalars.get(v.name)}` : ''}`).join(',')}`;
    let plan = this.plans.get(key);
    if (plan) {
      this.plans.delete(key); // re-insert: most recently used last
    } else {
      const shapes = inferShapes(graph, dims, scalars);
      plan = Plan.build(this.rt, graph, shapes, this.weights, scalars, this.options);
      const max = this.options.maxPlans ?? 8;
      while (this.plans.size >= max) {
        const [oldKey, old] = this.plans.entries().next().value as [string, Plan];
        old.dispose();
        this.plans.delete(oldKey);
      }
    }
    this.plans.set(key, plan);
    return { graph, plan };
  }

  private pick(inputs: Readonly<Record<string, TensorValue>>): Graph {
    const c = this.choice;
    if (c.kind === 'one') return c.graph;
    const t = inputs[c.timeInput];
    if (!t) throw new BadInputError(`missing input '${c.timeInput}'`, { field: c.timeInput });
    return t.dims[1] === 1 ? c.step : c.sequence;
  }

  /**
   * One call. Inputs in `carried` are not uploaded: they are copied on the device from
   * the session's buffers, and the outputs feeding them are copied back there.
   */
  private async runNow(
    inputs: Readonly<Record<string, TensorValue>>,
    session?: DeviceCarry,
    into?: OutputArrays,
  ): Promise<Record<string, TensorValue>> {
    const { graph, plan } = this.prepare(inputs, session?.dims);
    const { ctx, stream } = this.rt;
    // The caller's arrays are checked before any work is queued: a wrong one must not leave
    // a session's state a step ahead of what the caller was told.
    const results = graph.outputs.flatMap((v) => {
      if (session && v.name in session.carry) return [];
      const b = plan.buffers.get(v.name)!;
      const n = b.dims.reduce((a, d) => a * d, 1);
      const target = into?.[v.name];
      if (target) checkOutputArray(v.name, v.dtype, n, target);
      return [{ v, b, n, target }];
    });
    for (const v of graph.inputs) {
      if (session?.buffers.has(v.name)) continue; // moved on the device below
      const dst = plan.buffers.get(v.name)!;
      const t = inputs[v.name]!;
      if (t.data.length > 0) ctx.copyToDevice(dst.ptr, t.data, stream);
    }
    const moves = session && this.carryMoves(session, plan);
    const main = this.rt.lane(0);
    moves?.into?.enqueue(main);
    plan.enqueue(this.options.graphs ?? true);
    moves?.back?.enqueue(main);
    // Outputs going into page-locked arrays are copied behind the plan on the stream, so one
    // wait covers the GPU work and the copies; into pageable memory the driver copies only
    // synchronously, so those copies follow the wait (a pageable copy queued now would hold
    // the event loop for the whole GPU time).
    const out: Record<string, TensorValue> = {};
    const later: [Float32Array | Int32Array, DevicePtr][] = [];
    for (const { v, b, n, target } of results) {
      const data = target ?? (v.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n));
      if (n > 0) {
        if (target !== undefined && session?.pinned.has(target) === true) ctx.copyToHost(data, b.ptr, stream);
        else later.push([data, b.ptr]);
      }
      out[v.name] = { dtype: v.dtype, dims: [...b.dims], data };
    }
    await stream.idle(this.rt.pollMicros);
    for (const [data, ptr] of later) ctx.copyToHost(data, ptr, stream);
    return out;
  }

  /**
   * Page-locks a session's large `into` arrays (kept referenced by the session until it
   * is disposed or the array is evicted by newer ones), so their copies run at full speed.
   */
  private pinOutputs(session: DeviceCarry, into: OutputArrays | undefined): void {
    if (!into) return;
    for (const a of Object.values(into)) {
      if (a.byteLength < PIN_BYTES || session.pinned.has(a)) continue;
      if (session.pinned.size >= PIN_MAX) {
        const oldest = session.pinned.values().next().value as Float32Array | Int32Array;
        this.rt.ctx.unregisterHost(oldest);
        session.pinned.delete(oldest);
      }
      if (this.rt.ctx.registerHost(a)) session.pinned.add(a);
    }
  }

  /**
   * The copies of a session's carried values into `plan`'s inputs and back from its
   * outputs: two launches of one segment-copy kernel (instead of one copy call a value),
   * their tables made once per session and plan. Tables of plans this executable has since
   * dropped are freed here.
   */
  private carryMoves(session: DeviceCarry, plan: Plan): CarryMoves {
    const known = session.moves.get(plan);
    if (known) return known;
    const live = new Set(this.plans.values());
    for (const [p, m] of session.moves)
      if (!live.has(p)) {
        this.rt.ctx.freeAsync(m.table, this.rt.stream);
        session.moves.delete(p);
      }
    const into: [DevicePtr, DevicePtr, number][] = [];
    const back: [DevicePtr, DevicePtr, number][] = [];
    for (const [output, input] of Object.entries(session.carry)) {
      const held = session.buffers.get(input)!;
      if (held.bytes === 0) continue;
      into.push([held.ptr, plan.buffers.get(input)!.ptr, held.bytes]);
      back.push([plan.buffers.get(output)!.ptr, held.ptr, held.bytes]);
    }
    const words = new BigUint64Array(3 * (into.length + back.length));
    [...into, ...back].forEach(([src, dst, bytes], i) => {
      words.set([src, dst, BigInt(bytes)], 3 * i);
    });
    // Pooled memory is ordered on the stream: it is written there too (a copy on another
    // stream could land while earlier work on this one still reads a freed block it reuses).
    const table = this.rt.ctx.allocAsync(Math.max(words.byteLength, 256), this.rt.stream);
    if (words.length > 0) this.rt.ctx.copyToDevice(table, words, this.rt.stream);
    const step = (segs: readonly [DevicePtr, DevicePtr, number][], at: number, label: string) =>
      segs.length === 0
        ? undefined
        : kernelStep(
            this.rt,
            label,
            COPY_SEGMENTS,
            {
              grid: [copySegmentsBlocksX(Math.max(...segs.map((g) => g[2]))), segs.length],
              block: [COPY_SEGMENTS_THREADS],
            },
            [{ ptr: table + BigInt(at * 24) }],
          );
    const moves: CarryMoves = {
      into: step(into, 0, 'carried values into the plan'),
      back: step(back, into.length, 'carried values back'),
      table,
      words,
    };
    session.moves.set(plan, moves);
    return moves;
  }

  /**
   * A session whose carried values live in device buffers of its own: per call they are
   * copied into the plan's inputs and back from its outputs on the device (two
   * device-to-device copies of the state, no host transfer).
   */
  async openSession(carry: Carry, initial: Readonly<Record<string, InitialValue>>): Promise<GraphSession> {
    const graphs =
      this.choice.kind === 'one' ? [this.choice.graph] : [this.choice.step, this.choice.sequence];
    const session: DeviceCarry = {
      carry,
      dims: new Map(),
      buffers: new Map(),
      moves: new Map(),
      pinned: new Set(),
    };
    let total = 0;
    const layout: [string, number, number][] = [];
    // Looked up by name once (a 1.5B model carries 72 values: a scan of both graphs' inputs
    // per value took 1.5 ms, more than the rest of opening a session).
    const declaredInputs = new Map<string, Value>();
    for (const g of [...graphs].reverse()) for (const v of g.inputs) declaredInputs.set(v.name, v);
    for (const input of Object.values(carry)) {
      const t = initial[input];
      if (!t) throw new BadInputError(`no initial value for carried input '${input}'`, { field: input });
      const declared = declaredInputs.get(input);
      if (!declared)
        throw new BadInputError(`'${input}' is not an input of graph '${graphs[0]!.name}'`, { field: input });
      if (t.dtype !== declared.dtype)
        throw new BadInputError(`carried input '${input}' is ${t.dtype}, the graph takes ${declared.dtype}`, {
          field: input,
        });
      const bytes = ('zeros' in t ? numelOf(t.dims) : t.data.length) * 4;
      layout.push([input, total, bytes]);
      total += Math.ceil(bytes / 256) * 256;
      session.dims.set(input, [...t.dims]);
    }
    const outputsOf = graphs.map((g) => new Set(g.outputs.map((v) => v.name)));
    for (const output of Object.keys(carry))
      if (!outputsOf.every((names) => names.has(output)))
        throw new BadInputError(`carried output '${output}' is not an output of the graph`, {
          field: output,
        });
    // From the stream-ordered pool: sessions come and go (a prefill opens one per prompt),
    // and a pooled block costs neither a driver allocation nor a synchronization.
    const base = await this.rt.exclusive(async () => {
      const ptr = this.rt.ctx.allocAsync(Math.max(total, 256), this.rt.stream);
      let fromHost = false;
      // A fresh stream's zeros are set on the device (nothing crosses PCIe), all of them in
      // one call when every value starts at zero (a 1.5B model carries 72 values).
      const allZeros = layout.every(([input]) => 'zeros' in initial[input]!);
      if (allZeros) this.rt.ctx.memsetD32Async(ptr, 0, total / 4, this.rt.stream);
      for (const [input, offset, bytes] of layout) {
        session.buffers.set(input, { ptr: ptr + BigInt(offset), bytes });
        const t = initial[input]!;
        if (bytes === 0 || allZeros) continue;
        if ('zeros' in t) this.rt.ctx.memsetD32Async(ptr + BigInt(offset), 0, bytes / 4, this.rt.stream);
        else {
          this.rt.ctx.copyToDevice(ptr + BigInt(offset), t.data, this.rt.stream);
          fromHost = true;
        }
      }
      // host arrays must outlive their asynchronous copies; zeros need no wait
      if (fromHost) await this.rt.stream.synchronizeAsync();
      return ptr;
    });
    let open = true;
    const live = () => {
      if (!open) throw new DisposedError('GraphSession');
    };
    return {
      run: (inputs, into) =>
        this.rt.exclusive(() => {
          live();
          this.pinOutputs(session, into);
          return this.runNow(inputs, session, into);
        }),
      read: () =>
        this.rt.exclusive(async () => {
          live();
          const out: Record<string, TensorValue> = {};
          for (const [input, held] of session.buffers) {
            const data = new Float32Array(held.bytes / 4);
            if (held.bytes > 0) this.rt.ctx.copyToHost(data, held.ptr, this.rt.stream);
            out[input] = { dtype: 'float32', dims: [...session.dims.get(input)!], data };
          }
          return out;
        }),
      dispose: () =>
        this.rt.exclusive(async () => {
          if (!open) return;
          open = false;
          for (const a of session.pinned) this.rt.ctx.unregisterHost(a);
          session.pinned.clear();
          // stream-ordered: the blocks return to the pool after the work already enqueued
          for (const m of session.moves.values()) this.rt.ctx.freeAsync(m.table, this.rt.stream);
          session.moves.clear();
          this.rt.ctx.freeAsync(base, this.rt.stream);
        }),
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.rt.exclusive(async () => {
      this.disposed = true;
      this.rt.stream.synchronize();
      for (const p of this.plans.values()) p.dispose();
      this.plans.clear();
      this.weights.release();
    });
  }
}
