/**
 * Vision-RWKV speed and memory, ours against the official code on the same weights (GPU
 * machine): VRWKV-T and -S (the official ImageNet configs, random weights) at 224 and 1024
 * pixels, our CPU path (onnxruntime, all cores) and our CUDA path (float32) beside the
 * official PyTorch model with its CUDA kernel (float32), as images/s and ratios.
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
import type { Device } from '@rwkv-streams/core';
import {
  loadVrwkvWeights,
  randomVrwkvWeights,
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
  },
});
if (!values.dir && !values.random)
  throw new Error('--dir DIR (the output folder of bench/vision/reference_vrwkv.py) or --random is required');
const devices = (values.devices ?? (values.random ? 'cpu' : 'cpu,cuda')).split(',') as Device[];
const seconds = Number(values.seconds);
interface SizeFigures {
  readonly batch: number;
  readonly images_per_s?: number;
  readonly peak_bytes?: number;
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
if (devices.includes('cuda')) {
  const cuda = await import('@rwkv-streams/cuda');
  const rt = cuda.sharedRuntime();
  used = () => {
    const m = rt.ctx.memInfo();
    return m.total - m.free;
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
    ? `official: ${reference.device}, torch ${reference.torch}, float32, its CUDA kernel; ours: ${devices.join(', ')} (CPU: onnxruntime, ${availableParallelism()} threads; CUDA: float32 weights)`
    : `random weights of the official shapes, ours only: ${devices.join(', ')} (CPU: onnxruntime, ${availableParallelism()} threads)`,
);
console.log(
  '\n| model | pixels | batch | ours CPU img/s | ours CUDA img/s | official img/s | ours CUDA / official | memory ours / official |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, ref] of Object.entries(reference.configs)) {
  const { config, tensors } = values.dir
    ? loadVrwkvWeights(join(values.dir, `vrwkv-${name}.pth`))
    : (() => {
        const c: VrwkvConfig = VRWKV_SIZES[name as keyof typeof VRWKV_SIZES];
        return { config: c, tensors: randomVrwkvWeights(c) };
      })();
  for (const [sizeText, theirs] of Object.entries(ref.sizes)) {
    const size = Number(sizeText);
    const row: Record<string, string> = {};
    for (const device of devices) {
      const before = used?.() ?? 0;
      const model = new VrwkvModel(config, tensors, { device });
      const ips = await measure(model, size, theirs.batch);
      row[device] = ips.toFixed(1);
      if (device === 'cuda') {
        if (theirs.images_per_s) row['ratio'] = `${(ips / theirs.images_per_s).toFixed(2)}x`;
        row['memory'] = `${mib(used!() - before)} / ${theirs.peak_bytes ? mib(theirs.peak_bytes) : '-'}`;
      }
      await model.dispose();
    }
    console.log(
      `| VRWKV-${name === 'tiny' ? 'T' : name === 'small' ? 'S' : name} (${(ref.parameters / 1e6).toFixed(1)}M) | ${size} | ${theirs.batch} | ${row['cpu'] ?? '-'} | ${row['cuda'] ?? '-'} | ${theirs.images_per_s?.toFixed(1) ?? '-'} | ${row['ratio'] ?? '-'} | ${row['memory'] ?? '-'} |`,
    );
  }
}
