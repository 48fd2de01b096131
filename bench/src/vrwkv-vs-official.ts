/**
 * Vision-RWKV speed and memory, ours against the official code on the same weights (GPU
 * machine): VRWKV-T and -S (the official ImageNet configs, random weights) at 224 and 1024
 * pixels, our CPU path (onnxruntime, all cores) and our CUDA path beside the official
 * PyTorch model with its CUDA kernel, as images/s and ratios, at two precisions: fp32 (float32
 * on both sides) and fp16 (our float16 weights; theirs under torch.autocast(float16)).
 * Two CUDA figures of ours: through the model's API (pixels uploaded, features downloaded
 * every call) and on the GPU (the compiled plan replayed with input and output left in
 * device memory, as the official figure is timed: its input is a CUDA tensor).
 *
 *   python3 bench/vision/reference_vrwkv.py --ref /path/to/Vision-RWKV --out DIR
 *   node bench/dist/vrwkv-vs-official.js --dir DIR [--devices cpu,cuda] [--seconds 3]
 *
 * Without the reference (`--random`), the same configs and batches with random weights of
 * the official shapes, ours only (for a CPU that has no GPU beside it):
 *
 *   node bench/dist/vrwkv-vs-official.js --random [--devices cpu]
 *
 * Memory: theirs is torch.cuda.max_memory_allocated (weights included); ours the device
 * memory the model holds after its runs (weights, compiled plans and their activation
 * arenas, measured with cuMemGetInfo), which is its peak: plans keep their arenas.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Device, HostTensor } from '@rwkv-streams/core';
import type { CudaExecutable } from '@rwkv-streams/cuda';
import {
  buildVrwkvGraph,
  loadVrwkvWeights,
  randomVrwkvWeights,
  VRWKV_IO,
  VRWKV_SIZES,
  type VrwkvConfig,
  VrwkvModel,
} from '@rwkv-streams/vision';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    random: { type: 'boolean', default: false },
    devices: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    precisions: { type: 'string', default: 'fp32,fp16' },
  },
});
/** fp32: float32 on both sides; fp16: ours float16 weights (cuBLAS on tensor cores, float32
 * elsewhere), theirs under torch.autocast(float16), as its training runs (its WKV in float32). */
const precisions = values.precisions.split(',') as ('fp32' | 'fp16')[];
for (const p of precisions)
  if (p !== 'fp32' && p !== 'fp16') throw new Error(`--precisions takes fp32 and fp16, not '${p}'`);
if (!values.dir && !values.random)
  throw new Error('--dir DIR (the output folder of bench/vision/reference_vrwkv.py) or --random is required');
const devices = (values.devices ?? (values.random ? 'cpu' : 'cpu,cuda')).split(',') as Device[];
const seconds = Number(values.seconds);
interface SizeFigures {
  readonly batch: number;
  readonly images_per_s?: number;
  readonly peak_bytes?: number;
  /** The same under torch.autocast(float16) (reference_vrwkv.py --amp). */
  readonly images_per_s_amp?: number;
  readonly peak_bytes_amp?: number;
}
interface Reference {
  device: string;
  torch: string;
  configs: Record<string, { parameters: number; sizes: Record<string, SizeFigures> }>;
}
const sizesWithout: Record<string, SizeFigures> = { '224': { batch: 32 }, '1024': { batch: 2 } };
const reference: Reference = values.dir
  ? (JSON.parse(readFileSync(join(values.dir, 'reference.json'), 'utf8')) as Reference)
  : {
      device: 'none (random weights, ours only)',
      torch: '-',
      configs: Object.fromEntries(
        Object.entries(VRWKV_SIZES).map(([name, c]) => [
          name,
          {
            parameters: [...randomVrwkvWeights(c).values()].reduce((n, t) => n + t.data.length, 0),
            sizes: sizesWithout,
          },
        ]),
      ),
    };

let used: (() => number) | undefined;
/** Images/s of the model's CUDA plan replayed with input and output left on the GPU (set below). */
let onGpu:
  | ((
      config: VrwkvConfig,
      tensors: ReadonlyMap<string, HostTensor>,
      size: number,
      batch: number,
      half: boolean,
    ) => Promise<number>)
  | undefined;
if (devices.includes('cuda')) {
  const cuda = await import('@rwkv-streams/cuda');
  const rt = cuda.sharedRuntime();
  used = () => {
    const m = rt.ctx.memInfo();
    return m.total - m.free;
  };
  onGpu = async (config, tensors, size, batch, half) => {
    const P = config.patchSize;
    const graph = buildVrwkvGraph(config, tensors, [size / P, size / P]);
    const exe = (await cuda.cudaBackend.compile(graph, {
      device: 'cuda',
      ...(half ? { weightDType: 'float16' as const } : {}),
    })) as CudaExecutable;
    const dims = [batch, config.inChannels, size, size];
    const feeds = {
      [VRWKV_IO.pixels]: {
        dtype: 'float32' as const,
        dims,
        data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)),
      },
    };
    await exe.run(feeds); // eager
    await exe.run(feeds); // recorded as a CUDA graph
    const plan = exe.planFor(feeds);
    const [e0, e1] = [cuda.CudaEvent.create(), cuda.CudaEvent.create()];
    const time = (n: number) => {
      e0.record(rt.stream);
      for (let i = 0; i < n; i++) plan.enqueue(true);
      e1.record(rt.stream);
      e1.synchronize();
      return e1.elapsedSince(e0);
    };
    const reps = Math.max(3, Math.min(2000, Math.ceil((seconds * 1000) / (time(3) / 3))));
    const ms = time(reps);
    e0.dispose();
    e1.dispose();
    await exe.dispose();
    return (reps * batch) / (ms / 1000);
  };
}

async function measure(model: VrwkvModel, size: number, batch: number): Promise<number> {
  const pixels = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
  await model.forward(pixels, batch, size, size); // compiles the plan for this grid
  await model.forward(pixels, batch, size, size);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || n < 2) {
    await model.forward(pixels, batch, size, size);
    n++;
  }
  return (n * batch) / ((performance.now() - t0) / 1000);
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(
  values.dir
    ? `official: ${reference.device}, torch ${reference.torch}, its CUDA kernel, float32 (fp32 rows) or torch.autocast float16 (fp16 rows); ours: ${devices.join(', ')} (CPU: onnxruntime, ${availableParallelism()} threads, float32; CUDA: float32 or float16 weights)`
    : `random weights of the official shapes, ours only: ${devices.join(', ')} (CPU: onnxruntime, ${availableParallelism()} threads)`,
);
console.log(
  '\n| model | pixels | batch | precision | ours CPU img/s | ours CUDA img/s (host in/out) | ours CUDA img/s (on GPU) | official img/s (on GPU) | ours / official (host in/out) | ours / official (on GPU) | memory ours / official |',
);
console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, ref] of Object.entries(reference.configs)) {
  const { config, tensors } = values.dir
    ? loadVrwkvWeights(join(values.dir, `vrwkv-${name}.pth`))
    : (() => {
        const c: VrwkvConfig = VRWKV_SIZES[name as keyof typeof VRWKV_SIZES];
        return { config: c, tensors: randomVrwkvWeights(c) };
      })();
  for (const [sizeText, theirs] of Object.entries(ref.sizes)) {
    const size = Number(sizeText);
    for (const precision of precisions) {
      const half = precision === 'fp16';
      const theirIps = half ? theirs.images_per_s_amp : theirs.images_per_s;
      const theirPeak = half ? theirs.peak_bytes_amp : theirs.peak_bytes;
      const row: Record<string, string> = {};
      for (const device of devices) {
        if (half && device !== 'cuda') continue; // float16 weights on the CPU are storage only
        const before = used?.() ?? 0;
        const model = new VrwkvModel(config, tensors, {
          device,
          ...(half ? { weightDType: 'float16' as const } : {}),
        });
        const ips = await measure(model, size, theirs.batch);
        row[device] = ips.toFixed(1);
        if (device === 'cuda') {
          if (theirIps) row['ratio'] = `${(ips / theirIps).toFixed(2)}x`;
          row['memory'] = `${mib(used!() - before)} / ${theirPeak ? mib(theirPeak) : '-'}`;
        }
        await model.dispose();
        if (device === 'cuda' && onGpu) {
          const resident = await onGpu(config, tensors, size, theirs.batch, half);
          row['gpu'] = resident.toFixed(1);
          if (theirIps) row['gpuRatio'] = `${(resident / theirIps).toFixed(2)}x`;
        }
      }
      if (Object.keys(row).length === 0) continue;
      console.log(
        `| VRWKV-${name === 'tiny' ? 'T' : name === 'small' ? 'S' : name} (${(ref.parameters / 1e6).toFixed(1)}M) | ${size} | ${theirs.batch} | ${precision} | ${row['cpu'] ?? '-'} | ${row['cuda'] ?? '-'} | ${row['gpu'] ?? '-'} | ${theirIps?.toFixed(1) ?? '-'} | ${row['ratio'] ?? '-'} | ${row['gpuRatio'] ?? '-'} | ${row['memory'] ?? '-'} |`,
      );
    }
  }
}
