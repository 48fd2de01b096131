/**
 * The `segment` task: image items through the vision package's `segment()` operator, the
 * masks optionally written as palette and overlay PNGs.
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { BadInputError } from '@rwkv-streams/core';
import {
  classPalette,
  loadVrwkvSegmenter,
  readVisionModelCard,
  type SegmentResult,
  segment,
  VrwkvSegmenter,
  writeMaskPng,
  writeOverlayPng,
} from '@rwkv-streams/vision';
import { concatMap, defer, map, tap } from 'rxjs';
import type { ImageItem } from '../items.js';
import { modelFiles } from '../model-files.js';
import type { StageSpec } from '../schema.js';
import { CallTracker } from './call-tracker.js';
import { asRwkvError, type JsonValue, type Outcome, round6, type Task } from './task.js';

/**
 * Loads the segmenter of a `segment` stage; its result is `{ width, height, found: [{ label,
 * pixels, share }] }` (classes present, background left out, most pixels first), plus
 * `mask` and `overlay` (the PNGs written) with `outDir`.
 */
export function segmentTask(spec: Extract<StageSpec, { task: 'segment' }>): Task<ImageItem> {
  const files = modelFiles('segment', spec.model);
  const card = readVisionModelCard(files.config!);
  const { config, tensors } = loadVrwkvSegmenter(files.weights);
  const model = new VrwkvSegmenter(config, tensors, spec.threads ? { threads: spec.threads } : {});
  const calls = new CallTracker();
  calls.wrap(model, ['forward']);
  const palette = classPalette(config.numClasses, card.background);
  const { outDir } = spec;
  if (outDir) {
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (err) {
      throw new BadInputError(
        `cannot create the folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        {
          file: outDir,
          field: 'outDir',
        },
      );
    }
  }
  const batchSize = spec.batchSize ?? 8;
  const segmenter = segment({
    model,
    preprocess: {
      size: card.imageSize,
      mean: card.mean,
      std: card.std,
      channels: card.inChannels,
      policy: spec.resize,
    },
    labels: card.labels,
    ...(card.background !== undefined ? { background: card.background } : {}),
    batchSize,
    ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
  });
  const resultOf = async (r: SegmentResult): Promise<{ [key: string]: JsonValue }> => {
    const mask = r.mask!;
    const total = mask.width * mask.height;
    const found = (r.found ?? []).map((f) => ({
      label: f.label,
      pixels: f.pixels,
      share: round6(f.pixels / total),
    }));
    if (!outDir) return { width: mask.width, height: mask.height, found };
    const stem = join(outDir, basename(r.source, extname(r.source)));
    const pngs = { mask: `${stem}.mask.png`, overlay: `${stem}.overlay.png` };
    await writeMaskPng(mask, palette, pngs.mask);
    await writeOverlayPng(r.source, mask, palette, {
      ...(card.background !== undefined ? { background: card.background } : {}),
      path: pngs.overlay,
    });
    return { width: mask.width, height: mask.height, found, ...pngs };
  };
  return {
    batchSize,
    operator: (items) =>
      defer(() => {
        const byIndex: ImageItem[] = [];
        return items.pipe(
          tap((item) => byIndex.push(item)),
          map((item) => item.path),
          segmenter,
          concatMap(async (r): Promise<Outcome> => {
            const item = byIndex[r.index]!;
            delete byIndex[r.index];
            if (r.error) return { item, error: r.error };
            try {
              return { item, result: await resultOf(r) };
            } catch (err) {
              return { item, error: asRwkvError(err) };
            }
          }),
        );
      }),
    dispose: async () => {
      await calls.idle();
      await model.dispose();
    },
  };
}
