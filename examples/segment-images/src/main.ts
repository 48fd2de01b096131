/**
 * Segment images with the Vision-RWKV segmenter we trained on MNIST scenes:
 *
 *   node examples/segment-images/dist/main.js [--out DIR] [--policy tile|letterbox] [image ...]
 *
 * With no images it segments its own samples (examples/segment-images/samples: four
 * 64x64 test scenes and one 128x64 picture of two scenes side by side) plus one file
 * that is not an image. Images are cut into 64x64 tiles at their own resolution by
 * default (digits keep their size: what the model was trained on); `--policy letterbox`
 * scales each whole image into one 64x64 input instead (for pictures of larger digits). Each result comes in input order with the digits found (pixels
 * per class); for each image a palette PNG of the mask and an overlay PNG (the image
 * blended with the class colours) are written to DIR (default: a new temporary folder).
 * The broken file gets an error of its own and the rest of the stream goes on.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  classPalette,
  loadVrwkvSegmenter,
  segment,
  VrwkvSegmenter,
  writeMaskPng,
  writeOverlayPng,
} from '@rwkv-streams/vision';
import { concatMap, from, lastValueFrom, toArray } from 'rxjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const modelDir = join(root, 'models', 'vrwkv-mnist-scenes');
const samples = join(root, 'examples', 'segment-images', 'samples');
const card = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
  labels: string[];
  background: number;
  imageSize: number;
  mean: number[];
  std: number[];
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string' }, policy: { type: 'string', default: 'tile' } },
});
if (values.policy !== 'tile' && values.policy !== 'letterbox')
  throw new Error(`--policy must be tile or letterbox, not ${values.policy}`);
const policy = values.policy;
const out = values.out ?? mkdtempSync(join(tmpdir(), 'segment-images-'));
mkdirSync(out, { recursive: true });
let inputs = positionals;
let truth: Record<string, number[]> = {};
if (inputs.length === 0) {
  truth = JSON.parse(readFileSync(join(samples, 'truth.json'), 'utf8')) as Record<string, number[]>;
  inputs = readdirSync(samples)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(samples, f));
  const broken = join(out, 'not-an-image.png');
  writeFileSync(broken, 'this is text, not a PNG');
  inputs.splice(2, 0, broken);
}

const { config, tensors } = loadVrwkvSegmenter(join(modelDir, 'model.safetensors'));
const model = new VrwkvSegmenter(config, tensors);
const c = config.backbone;
console.log(
  `VRWKV segmenter ${c.depth} x ${c.embedDims} (${c.patchSize}x${c.patchSize} patches, ${config.numClasses} classes) on ${model.device}, ${policy}; writing PNGs to ${out}`,
);
const palette = classPalette(config.numClasses, card.background);
const results = await lastValueFrom(
  from(inputs).pipe(
    segment({
      model,
      // scenes are light digits on black: tiles and letterboxes are padded with black
      preprocess: { size: card.imageSize, mean: card.mean, std: card.std, channels: 1, policy },
      labels: card.labels,
      background: card.background,
      batchSize: 4,
      concurrency: 2,
    }),
    concatMap(async (r) => {
      const name = basename(r.source);
      if (r.error) {
        console.log(`#${r.index} ${name}: error ${r.error.code}: ${r.error.message}`);
        return r;
      }
      const stem = join(out, basename(name, extname(name)));
      await writeMaskPng(r.mask!, palette, `${stem}-mask.png`);
      await writeOverlayPng(r.source, r.mask!, palette, {
        background: card.background,
        path: `${stem}-overlay.png`,
      });
      const found = r.found!.map((f) => `${f.label} (${f.pixels} px)`).join(', ');
      const expected = truth[name];
      console.log(
        `#${r.index} ${name} ${r.mask!.width}x${r.mask!.height}: digits ${found || 'none'}${expected ? ` (true: ${expected.join(', ')})` : ''}`,
      );
      return r;
    }),
    toArray(),
  ),
);
const scored = results.filter((r) => r.found && truth[basename(r.source)]);
const right = scored.filter((r) => {
  const want = truth[basename(r.source)]!;
  const got = r.found!.map((f) => f.classIndex).sort((a, b) => a - b);
  return got.join(',') === [...want].sort((a, b) => a - b).join(',');
}).length;
if (scored.length > 0)
  console.log(
    `${right}/${scored.length} samples with exactly the true digits found; ${results.filter((r) => r.error).length} error(s)`,
  );
await model.dispose();
