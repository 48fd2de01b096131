/**
 * How close one batch-1 GEMV kernel (kernels/gemv-group.ts) streams its weights to the
 * copy bandwidth, per shape and kernel setting, as a decode step meets it: each launch
 * reads a different copy of the weights (copies enough to overflow L2), back to back on one
 * stream inside a replayed CUDA graph, so every launch pays its ramp-up and tail. Also the
 * same launch repeated on one copy (warm L2 when it fits): what a perfect prefetch into L2
 * could at best give. Checks each result (half 1.0 weights times 1.0 inputs sum to K).
 * GPU machine only.
 *
 *   node bench/dist/cuda-gemv.js [--shapes 2048x2048,8192x2048,...] [--variants default,loads8,...]
 */
import { parseArgs } from 'node:util';
import { type GemvKernelOptions, gemvGroupKernel, sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth, gpuMs } from './cuda/gpu-time.js';

const VARIANTS: Record<string, GemvKernelOptions> = {
  default: {},
  loads2: { loadsInFlight: 2 },
  loads8: { loadsInFlight: 8 },
  warps8: { warps: 8 },
  warps8split8: { warps: 8, maxSplit: 8 },
  split1: { maxSplit: 1 },
  cols2: { columns: 2 },
  cols4: { columns: 4 },
  cols2split8: { columns: 2, warps: 8, maxSplit: 8 },
  cols4loads2: { columns: 4, loadsInFlight: 2 },
};

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: '2048x2048,8192x2048,2048x8192,65536x2048,768x768,3072x768,768x3072' },
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
  },
});
const shapes = values.shapes.split(',').map((s) => {
  const [n, k] = s.split('x').map(Number);
  if (!n || !k || k % 8 !== 0) throw new Error(`shape '${s}' must be NxK with K a multiple of 8`);
  return { n, k };
});
const variants = values.variants.split(',').map((v) => {
  const o = VARIANTS[v];
  if (!o) throw new Error(`unknown variant '${v}' (${Object.keys(VARIANTS).join(', ')})`);
  return [v, o] as const;
});

const rt = sharedRuntime();

const timeMs = (enqueue: () => void, reps: number) => gpuMs(rt, enqueue, reps);

const bandwidth = copyBandwidth(rt);
console.log(`device: ${rt.ctx.name}; copy bandwidth ${(bandwidth / 1e9).toFixed(0)} GB/s`);
console.log('| N x K | MB | setting | blocks x threads | cold us | cold GB/s | of copy bw | warm-L2 us |');
console.log('| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |');
for (const { n, k } of shapes) {
  const bytes = n * k * 2;
  // enough copies that a launch never finds its weights in L2 (50 MB on an H100)
  const copies = Math.max(2, Math.min(64, Math.ceil((256 << 20) / bytes)));
  const w = rt.ctx.malloc(bytes * copies);
  rt.ctx.memsetD32Async(w, 0x3c003c00, (bytes * copies) / 4, rt.stream); // half 1.0
  const x = rt.ctx.malloc(k * 4);
  rt.ctx.memsetD32Async(x, 0x3f800000, k, rt.stream); // float 1.0
  const y = rt.ctx.malloc(n * 4);
  for (const [name, options] of variants) {
    const kernel = gemvGroupKernel(
      1,
      [{ type: 'f16', n, k, input: { operands: [{ rowOffsets: [0], colStride: 1, vector: true }] } }],
      options,
    );
    const fn = rt.kernel(kernel.source, kernel.name);
    const launch = (copy: number) =>
      rt.ctx.launch(fn, { grid: [kernel.blocks], block: [kernel.threads], stream: rt.stream }, [
        { ptr: w + BigInt(copy * bytes) },
        { ptr: y },
        { ptr: x },
      ]);
    const replay = (cycle: (i: number) => number, launches: number) => {
      rt.stream.beginCapture();
      for (let i = 0; i < launches; i++) launch(cycle(i));
      const graph = rt.stream.endCapture();
      const ms = timeMs(() => graph.launch(rt.stream), 5) / launches;
      graph.dispose();
      return ms;
    };
    const launches = Math.max(copies, 16);
    const cold = replay((i) => i % copies, launches);
    const warm = replay(() => 0, launches);
    const check = new Float32Array(n);
    rt.ctx.copyToHost(check, y, rt.stream);
    rt.stream.synchronize();
    if (check.some((v) => v !== k)) throw new Error(`${name} ${n}x${k}: a result is not ${k}`);
    const gbs = bytes / (cold / 1000) / 1e9;
    console.log(
      `| ${n} x ${k} | ${(bytes / 1e6).toFixed(1)} | ${name} | ${kernel.blocks} x ${kernel.threads} | ${(cold * 1000).toFixed(2)} | ${gbs.toFixed(0)} | ${((gbs * 1e9 * 100) / bandwidth).toFixed(0)}% | ${(warm * 1000).toFixed(2)} |`,
    );
  }
  rt.ctx.free(w);
  rt.ctx.free(x);
  rt.ctx.free(y);
}
