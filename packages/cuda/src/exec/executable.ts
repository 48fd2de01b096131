import {
  BadInputError,
  type Carry,
  type CompiledGraph,
  checkOutputArray,
  DisposedError,
  type DrawRequest,
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
import { runDrawLoop } from './draw-loop.js';
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
  readonly dims: ReadonlyMap<string, readonly number[]>;
  readonly buffers: Map<string, { readonly ptr: DevicePtr; readonly bytes: number }>;
  /** The one block holding every carried value. */
  readonly base: DevicePtr;
  readonly layout: CarryLayout;
  /** Per plan: the carried values' copies into its inputs and back from its outputs. */
  readonly moves: Map<Plan, CarryMoves>;
  /** Output arrays (`into`) page-locked for this session, oldest first (see `pinOutputs`). */
  readonly pinned: Set<Float32Array | Int32Array>;
  /** Large `into` arrays seen once: locked when they come back (see `pinOutputs`). */
  readonly seen: WeakSet<Float32Array | Int32Array>;
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

/** Launches moving every carried value (kernels/copy-segments.ts). */
interface CarryMoves {
  /** The session's values into the plan's inputs. */
  readonly into?: Step;
  /** The plan's carried outputs back into the session. */
  readonly back?: Step;
  /**
   * The plan's carried outputs straight into its inputs: between the steps of a draw loop,
   * one copy of the state a step instead of two (back, then into).
   */
  readonly feed?: Step;
}

/**
 * Where a session's carried values lie in its one device block, checked against the graphs
 * once: the same for every session opened with the same carry and initial shapes.
 */
interface CarryLayout {
  /** (input, byte offset in the block, bytes), in the carry's order. */
  readonly values: readonly (readonly [string, number, number])[];
  readonly total: number;
  readonly dims: ReadonlyMap<string, readonly number[]>;
  readonly allZeros: boolean;
  /** Names the layout's content: sessions with equal keys share segment tables. */
  readonly key: string;
}

/**
 * A plan's segment tables for one carry layout: session-side addresses are offsets into
 * the session's block (the copy kernel adds its base), so every session of the layout
 * shares them; they live as long as the plan.
 */
interface MoveTables {
  /** Device memory: the into-segments, the back-segments, then the feed-segments, 3 words each. */
  readonly table: DevicePtr;
  /** Its host copy, kept while the asynchronous upload may still read it. */
  readonly words: BigUint64Array;
  readonly into: number;
  readonly back: number;
  /** Output-to-input segments within the plan (both sides absolute). */
  readonly feed: number;
  /** The largest segment, for the launch's width. */
  readonly maxBytes: number;
}

const scalarInputs = new WeakMap<Graph, ReadonlySet<string>>();

/**
 * `dims` as a plan key's text, remembered per frozen array: a session's carried dims are
 * the same frozen arrays every call (72 of the 74 inputs of a 1.5B step), so a call's key is mostly lookups.
 */
const dimsTexts = new WeakMap<readonly number[], string>();
function dimsText(dims: readonly number[]): string {
  let text = dimsTexts.get(dims);
  if (text === undefined) {
    text = dims.join('x');
    if (Object.isFrozen(dims)) dimsTexts.set(dims, text); // a caller's array could change
  }
  return text;
}

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
  /** Per plan, its segment tables by carry layout key (freed with the plan). */
  private readonly moveTables = new Map<Plan, Map<string, MoveTables>>();
  /** Layouts of frozen initial values (the same objects come back for each fresh session). */
  private readonly layouts = new WeakMap<object, { readonly carry: Carry; readonly layout: CarryLayout }>();
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
    const key = `${graph.name}|${graph.inputs.map((v) => `${dimsText(dims.get(v.name)!)}${scalars.has(v.name) ? `=${scalars.get(v.name)}` : ''}`).join(',')}`;
    let plan = this.plans.get(key);
    if (plan) {
      this.plans.delete(key); // re-insert: most recently used last
    } else {
      const shapes = inferShapes(graph, dims, scalars);
      plan = Plan.build(this.rt, graph, shapes, this.weights, scalars, this.options);
      const max = this.options.maxPlans ?? 8;
      while (this.plans.size >= max) {
        const [oldKey, old] = this.plans.entries().next().value as [string, Plan];
        this.dropPlan(old);
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
   * `request.steps` calls of the session, each drawing the next call's `feed` input from
   * its `from` output on the GPU (exec/draw-loop.ts): no host round trip between steps.
   */
  private async drawNow(session: DeviceCarry, request: DrawRequest): Promise<Int32Array> {
    const { graph, plan } = this.prepare(request.inputs, session.dims);
    const feed = graph.inputs.find((v) => v.name === request.feed);
    const feedBuf = plan.buffers.get(request.feed);
    if (!feed || !feedBuf || feedBuf.type !== 'i32' || session.buffers.has(request.feed))
      throw new BadInputError(
        `'${request.feed}' is not an int32 input of graph '${graph.name}' to feed draws into`,
        {
          field: request.feed,
        },
      );
    const [batch = 0, width = 0] = feedBuf.dims;
    if (feedBuf.dims.length !== 2 || width !== 1)
      throw new ShapeMismatchError(
        `draws are fed one token a stream: '${request.feed}' is [${feedBuf.dims}], not [batch, 1]`,
        {
          field: request.feed,
        },
      );
    const from = graph.outputs.find((v) => v.name === request.from);
    const fromBuf = plan.buffers.get(request.from);
    if (!from || !fromBuf || fromBuf.type !== 'f32' || request.from in session.carry)
      throw new BadInputError(
        `'${request.from}' is not a float32 output of graph '${graph.name}' to draw from`,
        {
          field: request.from,
        },
      );
    const vocab = fromBuf.dims[fromBuf.dims.length - 1] ?? 0;
    if (numelOf(fromBuf.dims) !== batch * vocab || vocab === 0)
      throw new ShapeMismatchError(`'${request.from}' is [${fromBuf.dims}]: draws need one row a stream`, {
        field: request.from,
      });
    const { ctx, stream } = this.rt;
    for (const v of graph.inputs) {
      if (session.buffers.has(v.name)) continue;
      const t = request.inputs[v.name]!;
      if (t.data.length > 0) ctx.copyToDevice(plan.buffers.get(v.name)!.ptr, t.data, stream);
    }
    const moves = this.carryMoves(session, plan);
    const useGraphs = this.options.graphs ?? true;
    const drawn = await runDrawLoop(
      this.rt,
      { ...moves, plan: () => plan.enqueue(useGraphs) },
      { logits: fromBuf.ptr, feed: feedBuf.ptr, batch, vocab },
      request,
    );
    // the inputs' host arrays are read by asynchronous copies: the loop's wait covered them
    return drawn;
  }

  /**
   * Page-locks a session's large `into` arrays (kept referenced by the session until it
   * is disposed or the array is evicted by newer ones), so their copies run at full speed.
   * An array is locked the second time a session writes into it: locking one stream's
   * logits (256 KB) cost about 0.25 ms on an H100 host, more than the copy it speeds up,
   * so a session that writes an array once (a prefill) copies it as pageable memory.
   */
  private pinOutputs(session: DeviceCarry, into: OutputArrays | undefined): void {
    if (!into) return;
    for (const a of Object.values(into)) {
      if (a.byteLength < PIN_BYTES || session.pinned.has(a)) continue;
      if (!session.seen.has(a)) {
        session.seen.add(a);
        continue;
      }
      if (session.pinned.size >= PIN_MAX) {
        const oldest = session.pinned.values().next().value as Float32Array | Int32Array;
        this.rt.ctx.unregisterHost(oldest);
        session.pinned.delete(oldest);
      }
      if (this.rt.ctx.registerHost(a)) session.pinned.add(a);
    }
  }

  /** Frees a plan and the segment tables made for it (stream-ordered: after its last use). */
  private dropPlan(plan: Plan): void {
    for (const t of this.moveTables.get(plan)?.values() ?? []) this.rt.ctx.freeAsync(t.table, this.rt.stream);
    this.moveTables.delete(plan);
    plan.dispose();
  }

  /**
   * The copies of a session's carried values into `plan`'s inputs and back from its
   * outputs: two launches of one segment-copy kernel (instead of one copy call a value).
   * Their tables are made once per plan and layout (a prefill opens a session per prompt:
   * building and uploading a table each time cost about 0.1 ms of host time at 1.5B), the
   * launches once per session and plan.
   */
  private carryMoves(session: DeviceCarry, plan: Plan): CarryMoves {
    const known = session.moves.get(plan);
    if (known) return known;
    if (session.moves.size > 0) {
      const live = new Set(this.plans.values());
      for (const p of session.moves.keys()) if (!live.has(p)) session.moves.delete(p);
    }
    const t = this.moveTablesFor(plan, session.carry, session.layout);
    const step = (count: number, at: number, srcBase: DevicePtr, dstBase: DevicePtr, label: string) =>
      count === 0
        ? undefined
        : kernelStep(
            this.rt,
            label,
            COPY_SEGMENTS,
            { grid: [copySegmentsBlocksX(t.maxBytes), count], block: [COPY_SEGMENTS_THREADS] },
            [{ ptr: t.table + BigInt(at * 24) }, { ptr: srcBase }, { ptr: dstBase }],
          );
    const moves: CarryMoves = {
      into: step(t.into, 0, session.base, 0n, 'carried values into the plan'),
      back: step(t.back, t.into, 0n, session.base, 'carried values back'),
      feed: step(t.feed, t.into + t.back, 0n, 0n, 'carried values fed to the next step'),
    };
    session.moves.set(plan, moves);
    return moves;
  }

  private moveTablesFor(plan: Plan, carry: Carry, layout: CarryLayout): MoveTables {
    let byLayout = this.moveTables.get(plan);
    if (!byLayout) {
      byLayout = new Map();
      this.moveTables.set(plan, byLayout);
    }
    const known = byLayout.get(layout.key);
    if (known) return known;
    const at = new Map(layout.values.map(([input, offset, bytes]) => [input, { offset, bytes }]));
    const into: [bigint, bigint, number][] = [];
    const back: [bigint, bigint, number][] = [];
    const feed: [bigint, bigint, number][] = [];
    for (const [output, input] of Object.entries(carry)) {
      const held = at.get(input)!;
      if (held.bytes === 0) continue;
      const offset = BigInt(held.offset);
      const [src, dst] = [plan.buffers.get(output)!.ptr, plan.buffers.get(input)!.ptr];
      into.push([offset, dst, held.bytes]);
      back.push([src, offset, held.bytes]);
      feed.push([src, dst, held.bytes]);
    }
    const words = new BigUint64Array(3 * (into.length + back.length + feed.length));
    let w = 0;
    for (const [src, dst, bytes] of [...into, ...back, ...feed]) {
      words[w++] = src;
      words[w++] = dst;
      words[w++] = BigInt(bytes);
    }
    // Pooled memory is ordered on the stream: it is written there too (a copy on another
    // stream could land while earlier work on this one still reads a freed block it reuses).
    const table = this.rt.ctx.allocAsync(Math.max(words.byteLength, 256), this.rt.stream);
    if (words.length > 0) this.rt.ctx.copyToDevice(table, words, this.rt.stream);
    const made: MoveTables = {
      table,
      words,
      into: into.length,
      back: back.length,
      feed: feed.length,
      maxBytes: Math.max(0, ...into.map((g) => g[2])),
    };
    byLayout.set(layout.key, made);
    return made;
  }

  /** Checks a session's carry and initial values against the graphs and lays them out. */
  private carryLayout(carry: Carry, initial: Readonly<Record<string, InitialValue>>): CarryLayout {
    const frozen =
      Object.isFrozen(initial) &&
      Object.values(initial).every((v) => Object.isFrozen(v) && Object.isFrozen(v.dims));
    const memo = frozen ? this.layouts.get(initial) : undefined;
    if (memo && memo.carry === carry) return memo.layout;
    const graphs =
      this.choice.kind === 'one' ? [this.choice.graph] : [this.choice.step, this.choice.sequence];
    // Looked up by name once (a 1.5B model carries 72 values: a scan of both graphs' inputs
    // per value took 1.5 ms, more than the rest of opening a session).
    const declaredInputs = new Map<string, Value>();
    for (const g of [...graphs].reverse()) for (const v of g.inputs) declaredInputs.set(v.name, v);
    let total = 0;
    const values: [string, number, number][] = [];
    const dims = new Map<string, readonly number[]>();
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
      values.push([input, total, bytes]);
      total += Math.ceil(bytes / 256) * 256;
      dims.set(input, Object.freeze([...t.dims]));
    }
    const outputsOf = graphs.map((g) => new Set(g.outputs.map((v) => v.name)));
    for (const output of Object.keys(carry))
      if (!outputsOf.every((names) => names.has(output)))
        throw new BadInputError(`carried output '${output}' is not an output of the graph`, {
          field: output,
        });
    // what a segment table depends on: which output feeds which input, and where each lies
    const key = `${Object.entries(carry)
      .map(([output, input]) => `${output}>${input}`)
      .join(',')}|${values.map(([, offset, bytes]) => `${offset}+${bytes}`).join(',')}`;
    const layout: CarryLayout = {
      values,
      total,
      dims,
      allZeros: values.every(([input]) => 'zeros' in initial[input]!),
      key,
    };
    if (frozen) this.layouts.set(initial, { carry, layout });
    return layout;
  }

  /**
   * A session whose carried values live in device buffers of its own: per call they are
   * copied into the plan's inputs and back from its outputs on the device (two
   * device-to-device copies of the state, no host transfer).
   */
  async openSession(carry: Carry, initial: Readonly<Record<string, InitialValue>>): Promise<GraphSession> {
    const layout = this.carryLayout(carry, initial);
    // From the stream-ordered pool: sessions come and go (a prefill opens one per prompt),
    // and a pooled block costs neither a driver allocation nor a synchronization.
    const session = await this.rt.exclusive(async (): Promise<DeviceCarry> => {
      const base = this.rt.ctx.allocAsync(Math.max(layout.total, 256), this.rt.stream);
      const buffers = new Map<string, { readonly ptr: DevicePtr; readonly bytes: number }>();
      let fromHost = false;
      // A fresh stream's zeros are set on the device (nothing crosses PCIe), all of them in
      // one call when every value starts at zero (a 1.5B model carries 72 values).
      if (layout.allZeros) this.rt.ctx.memsetD32Async(base, 0, layout.total / 4, this.rt.stream);
      for (const [input, offset, bytes] of layout.values) {
        buffers.set(input, { ptr: base + BigInt(offset), bytes });
        const t = initial[input]!;
        if (bytes === 0 || layout.allZeros) continue;
        if ('zeros' in t) this.rt.ctx.memsetD32Async(base + BigInt(offset), 0, bytes / 4, this.rt.stream);
        else {
          this.rt.ctx.copyToDevice(base + BigInt(offset), t.data, this.rt.stream);
          fromHost = true;
        }
      }
      // host arrays must outlive their asynchronous copies; zeros need no wait
      if (fromHost) await this.rt.stream.synchronizeAsync();
      return {
        carry,
        dims: layout.dims,
        buffers,
        base,
        layout,
        moves: new Map(),
        pinned: new Set(),
        seen: new WeakSet(),
      };
    });
    const base = session.base;
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
      draw: (request) =>
        this.rt.exclusive(() => {
          live();
          return this.drawNow(session, request);
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
          // stream-ordered: the block returns to the pool after the work already enqueued
          // (the segment tables stay with their plans, for the next session of this layout)
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
      for (const p of this.plans.values()) this.dropPlan(p);
      this.plans.clear();
      this.weights.release();
    });
  }
}
