/**
 * Where the CUDA backend's time goes for a Vision-RWKV backbone (random weights of an
 * official config, float32 like the official comparison): the plan for one batch run once
 * with a CUDA event between steps, GPU time per op kind (GPU machine only).
 *
 *   node bench/dist/cuda-profile-vision.js [--config small] [--size 224] [--batch 32]
 */
import { parseArgs } from 'node:util';
import { type CudaExecutable, cudaBackend } from '@rwkv-streams/cuda';
import { buildVrwkvGraph, randomVrwkvWeights, VRWKV_IO, VRWKV_SIZES } from '@rwkv-streams/vision';
import { printProfile } from './cuda/profile-table.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'small' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '32' },
  },
});
const config = VRWKV_SIZES[values.config as keyof typeof VRWKV_SIZES];
if (!config) throw new Error(`--config must be one of ${Object.keys(VRWKV_SIZES).join(', ')}`);
const [size, batch] = [Number(values.size), Number(values.batch)];
const P = config.patchSize;
const grid = [size / P, size / P] as const;
const graph = buildVrwkvGraph(config, randomVrwkvWeights(config), grid);
const exe = (await cudaBackend.compile(graph, { device: 'cuda' })) as CudaExecutable;
const dims = [batch, config.inChannels, size, size];
const feeds = {
  [VRWKV_IO.pixels]: {
    dtype: 'float32' as const,
    dims,
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
  },
};
await exe.run(feeds);
printProfile(`VRWKV-${values.config} ${size} px, batch ${batch}`, exe.planFor(feeds));
await exe.dispose();
