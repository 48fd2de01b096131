/**
 * Where the CUDA backend's time goes: one RWKV-7 model (random weights, float16), its
 * decode step (batch 1, and each batch of `--batches`) and prefill (T tokens, batch 1) plans run once with a CUDA event
 * between steps; prints GPU time per op kind and the slowest steps, then the GPU time of
 * each plan replayed as its CUDA graph (100 replays back to back between two events: what
 * a call costs the GPU without the events' own overhead or the host's). With
 * `--without-gemv-groups` the decode step is also built and replayed with its GEMVs as
 * separate kernels (exec/gemv-groups.ts off), side by side. With `--lanes 1,4` every plan
 * is also built with each lane count (exec/lanes.ts: independent units on parallel streams,
 * parallel branches of the graph) and the replays compared, interleaved; `--siblings`
 * compares plans without and with sibling fusion (exec/sibling-fusion.ts, on by default)
 * the same way, `--rows` without and with row fusion (exec/row-fusion.ts, on by default),
 * `--broadcast` without and with broadcast members in elementwise groups (exec/units.ts),
 * `--concat` without and with token-shift Concats in place (exec/concat-in-place.ts), and
 * `--residual` without and with residual adds folded into GEMMs (exec/residual-gemm.ts),
 * `--pdl` without and with programmatic dependent launch
 * (kernels/grid-dependency.ts, on for decoding by default), `--row-norms` without and with
 * per-head LayerNorms folded into row kernels (exec/row-fusion.ts, on by default),
 * `--wkv7-one-step` without and with the warp-a-row WKV-7 step (kernels/wkv7-decode.ts, on by
 * default), `--sliced-prologues` without and with a decode step's six token-shift mixes
 * computed by the projections that read them (exec/gemv-groups.ts), `--row-siblings` without
 * and with elementwise siblings in row kernels (exec/row-fusion.ts, on by default),
 * `--prologue-streams N` GEMV prologues of any kind against those reading at most N operands
 * along the row (exec/gemv-groups.ts), `--norm-epilogues` without and with LayerNorms computing
 * the elementwise group that reads them (exec/norm-epilogue.ts), `--gemv-tiling 1x4,2x4,4x2,auto`
 * decode GEMVs with each tiling (output columns a warp x loads in flight a lane; `auto`: chosen per
 * group, exec/gemv-tiling.ts; the first is the base of the ratios), `--wkv7-rows` without and with
 * the row unit making a one-step Wkv7's k, a and b computed in its kernel
 * (exec/wkv7-row-prologue.ts), `--before-defaults` the defaults before 2026-12-06 (no LayerNorm
 * epilogues, no rows in the one-step WKV-7, one GEMV column a warp with 4 loads) against today's,
 * `--wkv7-affine 1,2,4` a prefill's chunked WKV-7 walked in four phases a chunk against each
 * chunk as one affine map of the state, at each count of state columns a unit
 * (kernels/wkv7-chunk-affine.ts).
 * The plans profiled first take the backend's defaults (and its environment).
 * GPU machine only.
 *
 *   node bench/dist/cuda-profile.js [--layers 12] [--embd 768] [--vocab 65536] [--seq 512]
 *     [--batches 1,64] [--without-gemv-groups] [--lanes 1,4] [--siblings] [--rows] [--broadcast]
 *     [--concat] [--residual] [--pdl] [--row-norms] [--wkv7-one-step]
 *     [--sliced-prologues] [--row-siblings] [--prologue-streams N] [--norm-epilogues]
 *     [--gemv-tiling 1x4,4x2,auto] [--wkv7-rows] [--before-defaults] [--wkv7-affine 1,2,4]
 */
import { parseArgs } from 'node:util';
import {
  buildRwkvGraph,
  LOGITS_FROM,
  stateInputName,
  stateSlots,
  type TensorValue,
} from '@rwkv-streams/core';
import {
  CudaEvent,
  type CudaExecutable,
  createCudaBackend,
  type Plan,
  sharedRuntime,
} from '@rwkv-streams/cuda';
import { benchWeights } from './cuda/bench-weights.js';
import { printProfile } from './cuda/profile-table.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seq: { type: 'string', default: '512' },
    batches: { type: 'string', default: '1' },
    'without-gemv-groups': { type: 'boolean', default: false },
    lanes: { type: 'string' },
    siblings: { type: 'boolean', default: false },
    rows: { type: 'boolean', default: false },
    broadcast: { type: 'boolean', default: false },
    concat: { type: 'boolean', default: false },
    residual: { type: 'boolean', default: false },
    pdl: { type: 'boolean', default: false },
    'row-norms': { type: 'boolean', default: false },
    'wkv7-one-step': { type: 'boolean', default: false },
    'sliced-prologues': { type: 'boolean', default: false },
    'row-siblings': { type: 'boolean', default: false },
    'prologue-streams': { type: 'string' },
    'norm-epilogues': { type: 'boolean', default: false },
    'gemv-tiling': { type: 'string' },
    'before-defaults': { type: 'boolean', default: false },
    'wkv7-rows': { type: 'boolean', default: false },
    'wkv7-affine': { type: 'string' },
  },
});
const [L, C, V, T] = [values.layers, values.embd, values.vocab, values.seq].map(Number) as [
  number,
  number,
  number,
  number,
];
// The benchmark's weights (two random layers repeated, embedding and head from a fast
// generator): the plans and their speed do not depend on the values, and random weights
// for all 24 layers of the 1.5B shape took 35-48 s of device time a call.
const { config, tensors } = benchWeights(L, C, V);
const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });
const laneCounts = values.lanes?.split(',').map(Number) ?? [];
if (laneCounts.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`--lanes takes lane counts (integers >= 1) separated by commas, not '${values.lanes}'`);
/** The plan options compared by the flags below, each off then on. */
type Compared =
  | 'fuseSiblings'
  | 'fuseRows'
  | 'fuseBroadcast'
  | 'concatInPlace'
  | 'accumulateResiduals'
  | 'gridDependency'
  | 'fuseRowNorms'
  | 'wkv7OneStep'
  | 'slicedPrologues'
  | 'fuseRowSiblings'
  | 'fuseNormEpilogues'
  | 'wkv7RowPrologue'
  | 'wkv7Affine';
/** A backend's plans for both graphs; options left out take the backend's defaults. */
const compile = async (
  options: {
    groupGemv?: boolean;
    lanes?: number | undefined;
    maxPrologueStreams?: number;
    gemvColumns?: 1 | 2 | 4 | undefined;
    gemvLoads?: number | undefined;
    wkv7AffineColumns?: 1 | 2 | 4;
  } & {
    [K in Compared]?: boolean;
  },
) => {
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return (await createCudaBackend({ groupGemv: true, ...set }).compileByTime!(step, seq, 'tokens', {
    device: 'cuda',
    weightDType: 'float16',
  })) as CudaExecutable;
};
const exe = await compile({ lanes: laneCounts[0] });

/** GPU milliseconds of one replay of a plan's CUDA graph (the median of 5 runs of 100). */
function replayMs(plan: Plan): number {
  const rt = sharedRuntime();
  plan.enqueue(true);
  plan.enqueue(true); // recorded by now
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const [a, b] = [CudaEvent.create(), CudaEvent.create()];
    a.record(rt.stream);
    for (let i = 0; i < 100; i++) plan.enqueue(true);
    b.record(rt.stream);
    b.synchronize();
    times.push(b.elapsedSince(a) / 100);
    a.dispose();
    b.dispose();
  }
  return times.sort((x, y) => x - y)[2]!;
}

function inputs(t: number, batch = 1): Record<string, TensorValue> {
  const feeds: Record<string, TensorValue> = {
    tokens: {
      dtype: 'int32',
      dims: [batch, t],
      data: Int32Array.from({ length: batch * t }, (_, i) => (i * 7919) % V),
    },
    [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(t - 1) },
  };
  for (const s of stateSlots(config)) {
    const dims = [batch, ...s.spec.shape];
    feeds[stateInputName(s.layer, s.spec.name)] = {
      dtype: 'float32',
      dims,
      data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
    };
  }
  return feeds;
}

// `--batches ''`: no decode plans (a prefill alone)
const batches = values.batches
  .split(',')
  .filter((b) => b !== '')
  .map(Number);
for (const [what, t, batch] of [
  ...batches.map((b) => [`decode step, batch ${b}`, 1, b] as const),
  [`prefill T=${T}, batch 1`, T, 1] as const,
]) {
  const feeds = inputs(t, batch);
  await exe.run(feeds);
  const plan = exe.planFor(feeds);
  printProfile(`${L} x ${C}, vocab ${V}: ${what}`, plan);
  console.log(
    `\n${what}: ${replayMs(plan).toFixed(3)} ms of GPU time a call, replayed as one CUDA graph (${plan.steps.length} steps, ${plan.schedule.lanesUsed} lanes)`,
  );
}
/**
 * Every plan of `variants` (one executable each, the weights uploaded again for each)
 * replayed in interleaved rounds so that drift of the GPU's clocks falls on all of them;
 * ratios against the first.
 */
async function compareVariants(
  what: string,
  variants: { name: string; exe: CudaExecutable }[],
): Promise<void> {
  for (const [plan, t, batch] of [
    ...batches.map((b) => [`decode step, batch ${b}`, 1, b] as const),
    [`prefill T=${T}, batch 1`, T, 1] as const,
  ]) {
    const feeds = inputs(t, batch);
    const plans: Plan[] = [];
    for (const v of variants) {
      await v.exe.run(feeds);
      plans.push(v.exe.planFor(feeds));
    }
    const times = plans.map(() => [] as number[]);
    for (let r = 0; r < 3; r++)
      plans.forEach((p, i) => {
        times[i]!.push(replayMs(p));
      });
    const med = (x: number[]) => [...x].sort((p, q) => p - q)[1]!;
    const base = med(times[0]!);
    console.log(
      `${plan}, replayed by ${what}: ${plans
        .map((p, i) => {
          const waits = p.schedule.waits.reduce((a, w) => a + w.length, 0);
          const ms = med(times[i]!);
          return `${variants[i]!.name} -> ${ms.toFixed(3)} ms (${p.steps.length} steps, ${p.schedule.lanesUsed} lanes, ${waits} waits, ${(base / ms).toFixed(2)}x)`;
        })
        .join('; ')}`,
    );
  }
}
if (laneCounts.length > 1) {
  const variants = [{ name: String(laneCounts[0]), exe }];
  for (const n of laneCounts.slice(1)) variants.push({ name: String(n), exe: await compile({ lanes: n }) });
  await compareVariants('lane count', variants);
  for (const v of variants.slice(1)) await v.exe.dispose();
}
/**
 * A fusion pass off and on, both plans built here (whether the base plans above use it
 * depends on the environment), their replays compared interleaved.
 */
async function compareFusion(label: string, option: Compared) {
  const variants = [
    { name: 'off', exe: await compile({ lanes: laneCounts[0], [option]: false }) },
    { name: 'on', exe: await compile({ lanes: laneCounts[0], [option]: true }) },
  ];
  await compareVariants(label, variants);
  for (const v of variants) await v.exe.dispose();
}
if (values.siblings) await compareFusion('sibling fusion', 'fuseSiblings');
if (values.rows) await compareFusion('row fusion', 'fuseRows');
if (values.broadcast) await compareFusion('broadcast fusion', 'fuseBroadcast');
if (values.concat) await compareFusion('Concats in place', 'concatInPlace');
if (values.residual) await compareFusion('residual GEMMs', 'accumulateResiduals');
if (values.pdl) await compareFusion('programmatic dependent launch', 'gridDependency');
if (values['row-norms']) await compareFusion('ln_x folded into its row kernel', 'fuseRowNorms');
if (values['wkv7-one-step']) await compareFusion('the one-step WKV-7 kernel', 'wkv7OneStep');
if (values['sliced-prologues'])
  await compareFusion('the token-shift mixes in the projections', 'slicedPrologues');
if (values['row-siblings'])
  await compareFusion('the k modification in the L2 norm kernel', 'fuseRowSiblings');
if (values['norm-epilogues']) await compareFusion('ln1 with the token-shift mixes', 'fuseNormEpilogues');
if (values['wkv7-rows']) await compareFusion('the L2 norm of k inside the one-step WKV-7', 'wkv7RowPrologue');
if (values['gemv-tiling'] !== undefined) {
  const variants = [];
  for (const t of values['gemv-tiling'].split(',')) {
    const m = /^([124])x(\d+)$/.exec(t);
    if (t !== 'auto' && (!m || Number(m[2]) < 1 || Number(m[2]) > 16))
      throw new Error(`--gemv-tiling takes COLUMNSxLOADS (1, 2 or 4 x 1..16) or auto, not '${t}'`);
    const exe = await compile({
      lanes: laneCounts[0],
      gemvColumns: m ? (Number(m[1]) as 1 | 2 | 4) : undefined,
      gemvLoads: m ? Number(m[2]) : undefined,
    });
    variants.push({ name: t, exe });
  }
  await compareVariants('GEMV tiling (columns a warp x loads a lane)', variants);
  for (const v of variants) await v.exe.dispose();
}
if (values['wkv7-affine'] !== undefined) {
  const variants = [
    { name: 'four phases a chunk', exe: await compile({ lanes: laneCounts[0], wkv7Affine: false }) },
  ];
  for (const c of values['wkv7-affine'].split(',')) {
    if (c !== '1' && c !== '2' && c !== '4')
      throw new Error(`--wkv7-affine takes state columns a unit (1, 2 or 4), not '${c}'`);
    const cols = Number(c) as 1 | 2 | 4;
    variants.push({
      name: `affine, ${cols} columns`,
      exe: await compile({ lanes: laneCounts[0], wkv7Affine: true, wkv7AffineColumns: cols }),
    });
  }
  await compareVariants('the chunked WKV-7 walk', variants);
  for (const v of variants) await v.exe.dispose();
}
if (values['before-defaults']) {
  const variants = [
    {
      name: 'before',
      exe: await compile({
        lanes: laneCounts[0],
        fuseNormEpilogues: false,
        wkv7RowPrologue: false,
        gemvColumns: 1,
        gemvLoads: 4,
      }),
    },
    { name: 'today', exe: await compile({ lanes: laneCounts[0] }) },
  ];
  await compareVariants('the defaults before 2026-12-06 and today', variants);
  for (const v of variants) await v.exe.dispose();
}
if (values['prologue-streams'] !== undefined) {
  const n = Number(values['prologue-streams']);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--prologue-streams takes a count (0, 1, ...), not '${values['prologue-streams']}'`);
  const variants = [
    {
      name: 'any',
      exe: await compile({ lanes: laneCounts[0], maxPrologueStreams: Number.POSITIVE_INFINITY }),
    },
    { name: `at most ${n}`, exe: await compile({ lanes: laneCounts[0], maxPrologueStreams: n }) },
  ];
  await compareVariants('GEMV prologues by the operands they read along the row', variants);
  for (const v of variants) await v.exe.dispose();
}
if (values['without-gemv-groups']) {
  const feeds = inputs(1);
  const plain = await compile({ groupGemv: false });
  await plain.run(feeds);
  const [without, withGroups] = [plain.planFor(feeds), exe.planFor(feeds)];
  // Interleaved, so that drift of the GPU's clocks falls on both.
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 3; r++) {
    a.push(replayMs(without));
    b.push(replayMs(withGroups));
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[1]!;
  console.log(
    `decode step, batch 1, replayed: GEMVs as separate kernels ${med(a).toFixed(3)} ms (${without.steps.length} steps), grouped ${med(b).toFixed(3)} ms (${withGroups.steps.length} steps): ${(med(a) / med(b)).toFixed(2)}x`,
  );
  await plain.dispose();
}
await exe.dispose();
