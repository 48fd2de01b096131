import { segment, writeOverlayPng } from '@rwkv-streams/vision';
import { concatMap, map, pipe } from 'rxjs';
import type { SegmentResponse } from '../../protocol.js';
import { measure, type RouteHandler } from '../context.js';
import { modelUnavailable, toHttpError } from '../errors.js';
import { sendJson } from '../http.js';
import { readImageUpload } from '../image-upload.js';

const hex = (c: readonly number[]) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/**
 * `POST /api/segment` (body: the image bytes; `?name=`; `?policy=tile|letterbox`, default
 * tile as in the CLI): the MNIST-scenes segmenter's classes found with their pixel shares
 * and colours, and the overlay PNG (a data URL), through the `segment` and
 * `segment.overlay` stages.
 */
export const handleSegment: RouteHandler = async (req, res, url, ctx) => {
  const upload = await readImageUpload(req, url, ctx);
  const seg = await ctx.models.segmenter().catch((err: unknown) => {
    throw modelUnavailable('segmentation', err);
  });
  const policy = url.searchParams.get('policy') === 'letterbox' ? 'letterbox' : 'tile';
  const background = seg.card.background;
  const t0 = performance.now();
  try {
    const r = await measure(
      ctx,
      'segment',
      upload.bytes,
      pipe(
        segment({
          model: seg.model,
          preprocess: {
            size: seg.card.imageSize,
            mean: seg.card.mean,
            std: seg.card.std,
            channels: seg.card.inChannels,
            policy,
          },
          labels: seg.card.labels,
          ...(background !== undefined ? { background } : {}),
        }),
        map((result) => {
          if (result.error) throw result.error;
          return result;
        }),
      ),
    );
    const overlay = await measure(
      ctx,
      'segment.overlay',
      r,
      concatMap((result) =>
        writeOverlayPng(upload.bytes, result.mask!, seg.palette, {
          ...(background !== undefined ? { background } : {}),
        }),
      ),
    );
    const total = r.mask!.width * r.mask!.height;
    const body: SegmentResponse = {
      name: upload.name,
      width: r.mask!.width,
      height: r.mask!.height,
      policy,
      found: (r.found ?? []).map((f) => ({
        label: f.label,
        pixels: f.pixels,
        share: f.pixels / total,
        color: hex(seg.palette[f.classIndex] ?? [255, 255, 255]),
      })),
      overlay: `data:image/png;base64,${overlay.toString('base64')}`,
      ms: Math.round(performance.now() - t0),
    };
    sendJson(res, 200, body);
  } catch (err) {
    throw toHttpError(err, upload.name);
  }
};
