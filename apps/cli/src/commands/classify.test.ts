import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classify, loadVrwkvWeights, VrwkvModel } from '@rwkv-streams/vision';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { ExitCode } from '../main.js';
import { type ClassifyLine, SHIPPED_CLASSIFY_MODEL } from './classify.js';

/**
 * `rwkv-streams classify` with the shipped Fashion-MNIST model on real images: test-split
 * samples written as PNGs (enlarged 2x) to a temp dir. Its output is the library's own
 * `classify()` result for the same files; a corrupt or missing file is an error line of
 * its own (exit 1) while the others still print; usage errors exit 2.
 */
const card = JSON.parse(readFileSync(join(SHIPPED_CLASSIFY_MODEL, 'config.json'), 'utf8')) as {
  labels: string[];
  mean: number[];
  std: number[];
  imageSize: number;
};
const dir = mkdtempSync(join(tmpdir(), 'rwkv-classify-'));
const folder = join(dir, 'images');
const samples = [3, 77, 140, 205];
const paths = samples.map((i) => join(folder, `sample-${i}.png`));
const truth = new Map<string, string>();
const broken = join(folder, 'broken.png');

beforeAll(async () => {
  mkdirSync(folder);
  const images = readFileSync(join(SHIPPED_CLASSIFY_MODEL, 'test-sample-images.u8'));
  const labels = readFileSync(join(SHIPPED_CLASSIFY_MODEL, 'test-sample-labels.u8'));
  for (const [k, i] of samples.entries()) {
    await sharp(images.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
      .resize(56, 56, { kernel: 'nearest' })
      .png()
      .toFile(paths[k]!);
    truth.set(paths[k]!, card.labels[labels[i]!]!);
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the whole CLI; stdout and stderr as text. */
const run = runCli;

/** The library's own results for the same files, with the command's preprocessing. */
async function library(files: string[], topK: number) {
  const { config, tensors } = loadVrwkvWeights(join(SHIPPED_CLASSIFY_MODEL, 'model.safetensors'));
  const model = new VrwkvModel(config, tensors);
  try {
    return await lastValueFrom(
      from(files).pipe(
        classify({
          model,
          preprocess: {
            size: card.imageSize,
            policy: 'letterbox',
            mean: card.mean,
            std: card.std,
            channels: 1,
          },
          labels: card.labels,
          topK,
        }),
        toArray(),
      ),
    );
  } finally {
    await model.dispose();
  }
}

describe('rwkv-streams classify', () => {
  it('prints path, label and probability of the top classes of each image, in order', async () => {
    const { code, out, err } = await run('classify', ...paths, '--top', '3');
    expect(err).toBe('');
    expect(code).toBe(ExitCode.ok);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3 * paths.length);
    paths.forEach((path, k) => {
      const rows = lines.slice(3 * k, 3 * k + 3).map((l) => l.split('\t'));
      const probs = rows.map((r) => Number(r[2]));
      for (const r of rows) {
        expect(r).toHaveLength(3);
        expect(r[0]).toBe(path);
        expect(card.labels).toContain(r[1]);
        expect(r[2]).toMatch(/^[01]\.\d{4}$/);
      }
      expect([...probs].sort((a, b) => b - a)).toEqual(probs);
    });
    const right = paths.filter((p, k) => lines[3 * k]!.split('\t')[1] === truth.get(p)).length;
    expect(right).toBeGreaterThanOrEqual(3);
    // --top defaults to 1
    const one = await run('classify', paths[0]!);
    expect(one.out).toBe(`${lines[0]}\n`);
  });

  it("--json prints one object per image, the library's own result", async () => {
    const { code, out } = await run('classify', ...paths, '--json', '--top', '2', '--threads', '1');
    expect(code).toBe(ExitCode.ok);
    const got = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as ClassifyLine);
    const want = await library(paths, 2);
    expect(got).toHaveLength(want.length);
    got.forEach((g, k) => {
      expect(Object.keys(g).sort()).toEqual(['ms', 'path', 'top']);
      expect(g.path).toBe(want[k]!.source);
      expect(g.ms).toBeGreaterThan(0);
      expect(g.top.map((t) => t.label)).toEqual(want[k]!.top!.map((t) => t.label));
      g.top.forEach((t, j) => {
        expect(t.probability).toBeCloseTo(want[k]!.top![j]!.probability, 6);
      });
    });
  });

  it('reads a folder; a corrupt file and a missing one are errors of their own, the rest print (exit 1)', async () => {
    writeFileSync(broken, 'this is text, not a PNG');
    const missing = join(dir, 'no-such-image.png');
    const { code, out, err } = await run('classify', folder, missing, '--json');
    expect(code).toBe(ExitCode.failure);
    const got = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as ClassifyLine);
    // the folder's images by name; broken.png sorts first
    expect(got.map((g) => g.path)).toEqual([...paths].sort());
    const errLines = err.trimEnd().split('\n');
    expect(errLines).toHaveLength(3);
    expect(errLines.find((l) => l.includes(missing))).toMatch(/^rwkv-streams: classify: FILE_NOT_FOUND: /);
    expect(errLines.find((l) => l.includes(broken))).toMatch(/^rwkv-streams: classify: MALFORMED_FILE: /);
    expect(errLines.at(-1)).toMatch(/2 of 6 images could not be classified/);
    // the results of the good images are unaffected by the bad ones
    const want = await library([...paths].sort(), 1);
    expect(got.map((g) => g.top[0]!.label)).toEqual(want.map((w) => w.top![0]!.label));
  });

  it('many images: a progress bar on stderr when it is a terminal, nothing when it is not; the same output', async () => {
    const many = [...paths, ...paths]; // 8 images: enough for a bar
    const piped = await run('classify', ...many);
    expect(piped.code).toBe(ExitCode.ok);
    expect(piped.err).toBe('');
    const isTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const tty = await run('classify', ...many);
      expect(tty.code).toBe(ExitCode.ok);
      expect(tty.out).toBe(piped.out);
      expect(tty.err).toMatch(/classify \[-{24}\] 0% \| 0\/8 images/);
      expect(tty.err).toMatch(/classify \[={24}\] 100% \| 8\/8 images \| sample-205\.png/);
      expect(tty.err).not.toContain('\n');
    } finally {
      if (isTTY) Object.defineProperty(process.stderr, 'isTTY', isTTY);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('exits 2 on usage errors and prints help with examples', async () => {
    expect((await run('classify')).code).toBe(ExitCode.usage);
    expect((await run('classify', paths[0]!, '--top', '0')).code).toBe(ExitCode.usage);
    expect((await run('classify', paths[0]!, '--device', 'tpu')).code).toBe(ExitCode.usage);
    expect((await run('classify', paths[0]!, '--threads', 'x')).code).toBe(ExitCode.usage);
    const help = await run('classify', '--help');
    expect(help.code).toBe(ExitCode.ok);
    expect(help.out).toContain('Examples:');
    expect(help.out).toContain('rwkv-streams classify photos/ --top 3');
  });

  it('a model folder without a model is a typed error naming it (exit 1)', async () => {
    const { code, err } = await run('classify', paths[0]!, '--model', dir);
    expect(code).toBe(ExitCode.failure);
    expect(err).toContain(`FILE_NOT_FOUND: ${join(dir, 'model.safetensors')}`);
  });
});
