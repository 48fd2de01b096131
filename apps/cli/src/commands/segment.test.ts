import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadVrwkvSegmenter, segment, VrwkvSegmenter } from '@rwkv-streams/vision';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { ExitCode } from '../main.js';
import { type SegmentLine, SHIPPED_SEGMENT_MODEL } from './segment.js';

/**
 * `rwkv-streams segment` with the shipped MNIST-scenes segmenter on the sample scenes of
 * examples/segment-images: one line per image, a palette mask PNG and an overlay PNG each;
 * --json is the library's own `segment()` result for the same files; a corrupt file is an
 * error line of its own (exit 1) while the others still go on; usage errors exit 2.
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const samplesDir = join(root, 'examples/segment-images/samples');
const truth = JSON.parse(readFileSync(join(samplesDir, 'truth.json'), 'utf8')) as Record<string, number[]>;
const samples = readdirSync(samplesDir)
  .filter((f) => f.endsWith('.png'))
  .sort()
  .map((f) => join(samplesDir, f));
const card = JSON.parse(readFileSync(join(SHIPPED_SEGMENT_MODEL, 'config.json'), 'utf8')) as {
  labels: string[];
  mean: number[];
  std: number[];
  imageSize: number;
  background: number;
};
const dir = mkdtempSync(join(tmpdir(), 'rwkv-segment-'));

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the whole CLI; stdout and stderr as text. */
const run = runCli;

describe('rwkv-streams segment', () => {
  it('prints the classes found per image and writes a palette mask and an overlay PNG', async () => {
    const out = join(dir, 'text');
    const r = await run('segment', samplesDir, '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(ExitCode.ok);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(samples.length);
    let exact = 0;
    for (const [k, line] of lines.entries()) {
      const [path, classes, ...rest] = line.split('\t');
      expect(rest).toEqual([]);
      expect(path).toBe(samples[k]);
      const found = classes!.split(', ').map((c) => c.match(/^(\S+) (\d+\.\d\d)%$/));
      for (const m of found) {
        expect(m).not.toBeNull();
        expect(card.labels).toContain(m![1]);
        expect(m![1]).not.toBe('background');
      }
      const digits = found.map((m) => Number(m![1])).sort((a, b) => a - b);
      if (digits.join() === [...truth[basename(path!)]!].sort((a, b) => a - b).join()) exact++;

      const stem = join(out, basename(path!, '.png'));
      const image = await sharp(path!).metadata();
      const mask = await sharp(`${stem}.mask.png`).metadata();
      const overlay = await sharp(`${stem}.overlay.png`).metadata();
      expect([mask.width, mask.height]).toEqual([image.width, image.height]);
      expect([overlay.width, overlay.height, overlay.channels]).toEqual([image.width, image.height, 3]);
      // a palette PNG (colour type 3 in the IHDR chunk)
      expect(readFileSync(`${stem}.mask.png`)[25]).toBe(3);
    }
    expect(exact).toBeGreaterThanOrEqual(samples.length - 1);
  });

  it("--json prints one object per image, the library's own result", async () => {
    const out = join(dir, 'json');
    const r = await run('segment', ...samples, '--out', out, '--json', '--threads', '1');
    expect(r.code).toBe(ExitCode.ok);
    const got = r.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as SegmentLine);
    const { config, tensors } = loadVrwkvSegmenter(join(SHIPPED_SEGMENT_MODEL, 'model.safetensors'));
    const model = new VrwkvSegmenter(config, tensors);
    const want = await lastValueFrom(
      from(samples).pipe(
        segment({
          model,
          preprocess: { size: card.imageSize, mean: card.mean, std: card.std, channels: 1, policy: 'tile' },
          labels: card.labels,
          background: card.background,
        }),
        toArray(),
      ),
    );
    await model.dispose();
    expect(got).toHaveLength(want.length);
    got.forEach((g, k) => {
      const w = want[k]!;
      const total = w.mask!.width * w.mask!.height;
      expect(Object.keys(g).sort()).toEqual(['found', 'height', 'mask', 'ms', 'overlay', 'path', 'width']);
      expect(g.path).toBe(w.source);
      expect([g.width, g.height]).toEqual([w.mask!.width, w.mask!.height]);
      expect(g.found).toEqual(
        w.found!.map((f) => ({ label: f.label, pixels: f.pixels, share: f.pixels / total })),
      );
      expect(g.mask).toBe(join(out, `${basename(w.source, '.png')}.mask.png`));
      expect(g.overlay).toBe(join(out, `${basename(w.source, '.png')}.overlay.png`));
      expect(existsSync(g.mask) && existsSync(g.overlay)).toBe(true);
      expect(g.ms).toBeGreaterThan(0);
    });
  });

  it('a corrupt file is an error line of its own; the others are segmented (exit 1)', async () => {
    const input = join(dir, 'mixed');
    mkdirSync(input);
    for (const s of samples.slice(0, 2)) copyFileSync(s, join(input, basename(s)));
    const broken = join(input, 'broken.png');
    writeFileSync(broken, 'this is text, not a PNG');
    const out = join(dir, 'mixed-out');
    const r = await run('segment', input, '--out', out);
    expect(r.code).toBe(ExitCode.failure);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.map((l) => l.split('\t')[0])).toEqual(
      samples.slice(0, 2).map((s) => join(input, basename(s))),
    );
    const errLines = r.err.trimEnd().split('\n');
    expect(errLines).toHaveLength(2);
    expect(errLines[0]).toMatch(/^rwkv-streams: segment: MALFORMED_FILE: /);
    expect(errLines[0]).toContain(broken);
    expect(errLines[1]).toContain('1 of 3 images could not be segmented');
    expect(readdirSync(out).sort()).toEqual(
      samples
        .slice(0, 2)
        .flatMap((s) => [`${basename(s, '.png')}.mask.png`, `${basename(s, '.png')}.overlay.png`])
        .sort(),
    );
  });

  it('many images: a progress bar on stderr when it is a terminal, nothing when it is not; the same output', async () => {
    const many = [...samples, ...samples]; // enough for a bar (same names: the PNGs are rewritten)
    const out = join(dir, 'many');
    const piped = await run('segment', ...many, '--out', out);
    expect(piped.code).toBe(ExitCode.ok);
    expect(piped.err).toBe('');
    const isTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const tty = await run('segment', ...many, '--out', out);
      expect(tty.code).toBe(ExitCode.ok);
      expect(tty.out).toBe(piped.out);
      const n = many.length;
      expect(tty.err).toContain(`segment [${'-'.repeat(24)}] 0% | 0/${n} images`);
      expect(tty.err).toContain(
        `segment [${'='.repeat(24)}] 100% | ${n}/${n} images | ${basename(many.at(-1)!)}`,
      );
      expect(tty.err).not.toContain('\n');
    } finally {
      if (isTTY) Object.defineProperty(process.stderr, 'isTTY', isTTY);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('exits 2 on usage errors and prints help with examples', async () => {
    expect((await run('segment', '--out', dir)).code).toBe(ExitCode.usage);
    expect((await run('segment', samples[0]!)).code).toBe(ExitCode.usage);
    expect((await run('segment', samples[0]!, '--out', dir, '--policy', 'crop')).code).toBe(ExitCode.usage);
    expect((await run('segment', samples[0]!, '--out', dir, '--device', 'tpu')).code).toBe(ExitCode.usage);
    const help = await run('segment', '--help');
    expect(help.code).toBe(ExitCode.ok);
    expect(help.out).toContain('Examples:');
    expect(help.out).toContain('rwkv-streams segment examples/segment-images/samples --out masks');
  });
});
