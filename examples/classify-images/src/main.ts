/**
 * Classify images with the Vision-RWKV model we trained on Fashion-MNIST:
 *
 *   node examples/classify-images/dist/main.js [image ...]
 *
 * With no arguments it writes a few images of its own (test-split samples, enlarged to
 * 112x112 PNGs, and one file that is not an image) and classifies those: the results
 * come in input order, each with its top classes, and the broken file gets an error of
 * its own while the rest of the stream goes on.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classify, loadVrwkvWeights, VrwkvModel } from '@rwkv-streams/vision';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import sharp from 'sharp';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const modelDir = join(root, 'models', 'vrwkv-fashion-mnist');
const card = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
  labels: string[];
  mean: number[];
  std: number[];
};

let inputs = process.argv.slice(2);
const truth = new Map<string, string>();
let scratch: string | undefined;
if (inputs.length === 0) {
  scratch = mkdtempSync(join(tmpdir(), 'classify-images-'));
  const images = readFileSync(join(modelDir, 'test-sample-images.u8'));
  const labels = readFileSync(join(modelDir, 'test-sample-labels.u8'));
  for (const i of [3, 77, 140, 205, 260, 333, 410, 488]) {
    const path = join(scratch, `sample-${i}.png`);
    const pixels = images.subarray(i * 784, (i + 1) * 784);
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .resize(112, 112, { kernel: 'nearest' })
      .png()
      .toFile(path);
    truth.set(path, card.labels[labels[i]!]!);
    inputs.push(path);
  }
  const broken = join(scratch, 'not-an-image.png');
  writeFileSync(broken, 'this is text, not a PNG');
  inputs = [...inputs.slice(0, 4), broken, ...inputs.slice(4)];
}

const { config, tensors } = loadVrwkvWeights(join(modelDir, 'model.safetensors'));
const model = new VrwkvModel(config, tensors);
console.log(
  `VRWKV ${config.depth} x ${config.embedDims} (${config.patchSize}x${config.patchSize} patches) on ${model.device}`,
);
const results = await lastValueFrom(
  from(inputs).pipe(
    classify({
      model,
      // Fashion-MNIST pictures are light garments on black: letterbox other shapes onto black.
      preprocess: { size: 28, policy: 'letterbox', mean: card.mean, std: card.std, channels: 1 },
      labels: card.labels,
      topK: 3,
      batchSize: 4,
    }),
    tap((r) => {
      const name = r.source.split('/').pop();
      if (r.error) console.log(`#${r.index} ${name}: error ${r.error.code}: ${r.error.message}`);
      else {
        const top = r.top!.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ');
        const expected = truth.get(r.source);
        console.log(`#${r.index} ${name}: ${top}${expected ? ` (true: ${expected})` : ''}`);
      }
    }),
    toArray(),
  ),
);
const scored = results.filter((r) => r.top && truth.has(r.source));
if (scored.length > 0) {
  const right = scored.filter((r) => r.top![0]!.label === truth.get(r.source)).length;
  console.log(
    `${right}/${scored.length} samples classified correctly; ${results.filter((r) => r.error).length} error(s)`,
  );
}
await model.dispose();
if (scratch) rmSync(scratch, { recursive: true, force: true });
