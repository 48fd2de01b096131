/**
 * The chunked WKV-7 of a prefill alone (the `Wkv7` op: its prep and scan kernels), per head
 * layout and walk: the four-phase walk (kernels/wkv7-chunked.ts) against the affine walk
 * (kernels/wkv7-chunk-affine.ts) at each tiling (`cCsS`: state columns a unit x lanes a unit;
 * `bB`: buffers of chunk maps in the cp.async ring, 2 or 3, default 3). Each
 * plan is replayed as its CUDA graph in interleaved rounds (GPU time of one call, median);
 * every variant's outputs are compared with the first's. GPU machine only.
 *
 *   node bench/dist/cuda-wkv7.js [--shapes 1x512x12x64,1x512x32x64] [--variants stepwise,c2s4,...]
 */
import { parseArgs } from 'node:util';
import { GraphBuilder, SeededRandom, type TensorValue } from '@rwkv-streams/core';
import { type CudaExecutable, createCudaBackend, sharedRuntime } from '@rwkv-streams/cuda';
import { gpuMs } from './cuda/gpu-time.js';

const { values } = parseArgs({
  options: {
    // the 0.1B and 1.5B models' prefill at batch 1, T = 512
    shapes: { type: 'string', default: '1x512x12x64,1x512x32x64' },
    variants: { type: 'string', default: 'stepwise,c1s2,c2s1,c2s2,c2s4,c4s1,c2s2b2,auto' },
    rounds: { type: 'string', default: '3' },
  },
});

interface Variant {
  readonly name: string;
  readonly options: {
    wkv7Affine: boolean;
    wkv7AffineColumns?: 1 | 2 | 4;
    wkv7AffineSplit?: 1 | 2 | 4;
    wkv7AffineStages?: 2 | 3;
  };
}
const variants: Variant[] = values.variants.split(',').map((v) => {
  if (v === 'stepwise') return { name: v, options: { wkv7Affine: false } };
  if (v === 'auto') return { name: v, options: { wkv7Affine: true } };
  const m = /^c([124])s([124])(?:b([23]))?$/.exec(v);
  if (!m) throw new Error(`variant '${v}' is not stepwise, auto or cCsS[bB] (C, S in 1, 2, 4; B in 2, 3)`);
  return {
    name: v,
    options: {
      wkv7Affine: true,
      wkv7AffineColumns: Number(m[1]) as 1 | 2 | 4,
      wkv7AffineSplit: Number(m[2]) as 1 | 2 | 4,
      wkv7AffineStages: Number(m[3] ?? 3) as 2 | 3,
    },
  };
});
const rounds = Number(values.rounds);

const rt = sharedRuntime();
console.log(`device: ${rt.ctx.name}`);
for (const shape of values.shapes.split(',')) {
  const [B, T, H, N] = shape.split('x').map(Number) as [number, number, number, number];
  if (![B, T, H, N].every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`shape '${shape}' must be BxTxHxN`);
  const gb = new GraphBuilder(`wkv7_bench_${shape}`);
  const d = [B, T, H, N];
  const [r, w, k, v, a, b] = ['r', 'w', 'k', 'v', 'a', 'b'].map((n) => gb.input(n, 'float32', d));
  const out = gb.wkv7(r!, w!, k!, v!, a!, b!, gb.input('s', 'float32', [B, H, N, N]));
  gb.output('y', out.y);
  gb.output('s_out', out.s);
  const graph = gb.build();
  // RWKV-7-formed inputs: decays in [0.545, 1), a = -kk and b = kk * lr with kk unit per head
  const rng = new SeededRandom(7);
  const n = B * T * H * N;
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng.uniform();
  const tv = (data: Float32Array, dims: number[]): TensorValue => ({ dtype: 'float32', dims, data });
  const kk = Float32Array.from({ length: n }, () => rng.normal());
  const av = new Float32Array(n);
  const bv = new Float32Array(n);
  for (let row = 0; row < n / N; row++) {
    let norm = 0;
    for (let j = 0; j < N; j++) norm += kk[row * N + j]! ** 2;
    norm = Math.sqrt(norm);
    const lr = u(0, 1);
    for (let j = 0; j < N; j++) {
      av[row * N + j] = -kk[row * N + j]! / norm;
      bv[row * N + j] = (kk[row * N + j]! / norm) * lr;
    }
  }
  const feeds = {
    r: tv(
      Float32Array.from({ length: n }, () => u(-1, 1)),
      d,
    ),
    w: tv(
      Float32Array.from({ length: n }, () => Math.exp(-Math.exp(-0.5) / (1 + Math.exp(-u(-6, 6))))),
      d,
    ),
    k: tv(
      Float32Array.from({ length: n }, () => u(-0.5, 0.5)),
      d,
    ),
    v: tv(
      Float32Array.from({ length: n }, () => u(-1, 1)),
      d,
    ),
    a: tv(av, d),
    b: tv(bv, d),
    s: tv(
      Float32Array.from({ length: B * H * N * N }, () => u(-0.2, 0.2)),
      [B, H, N, N],
    ),
  };
  const runs = [];
  let first: Record<string, TensorValue> | undefined;
  for (const variant of variants) {
    const exe = (await createCudaBackend(variant.options).compile(graph, {
      device: 'cuda',
    })) as CudaExecutable;
    const got = await exe.run(feeds);
    first ??= got;
    let diff = 0;
    for (const name of ['y', 's_out'])
      got[name]!.data.forEach((x, i) => {
        diff = Math.max(diff, Math.abs(Number(x) - Number(first![name]!.data[i])));
      });
    await exe.run(feeds); // recorded as a CUDA graph by the second call
    const plan = exe.planFor(feeds);
    runs.push({ variant, exe, plan, diff, times: [] as number[] });
  }
  for (let round = 0; round < rounds; round++)
    for (const run of runs) run.times.push(gpuMs(rt, () => run.plan.enqueue(true), 50));
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
  const base = med(runs[0]!.times);
  console.log(
    `\nWkv7 B ${B} T ${T} H ${H} N ${N}: GPU time of a call (prep + scan), median of ${rounds} rounds`,
  );
  console.log('| walk | us | vs first | kernels | largest difference from the first |');
  console.log('| --- | ---: | ---: | --- | ---: |');
  for (const run of runs) {
    const ms = med(run.times);
    console.log(
      `| ${run.variant.name} | ${(ms * 1000).toFixed(1)} | ${(base / ms).toFixed(2)}x | ${run.plan.steps
        .map((s) => s.label.replace(/^Wkv7 \(chunked\) -> \S+ ?/, '') || 'one kernel')
        .join(' + ')} | ${run.diff.toExponential(1)} |`,
    );
    await run.exe.dispose();
  }
}
