import { classify } from '@rwkv-streams/vision';
import { map, pipe } from 'rxjs';
import type { ClassifyResponse } from '../../protocol.js';
import { measure, type RouteHandler } from '../context.js';
import { modelUnavailable, toHttpError } from '../errors.js';
import { sendJson } from '../http.js';
import { readImageUpload } from '../image-upload.js';

/** Classes answered when the page asks for none (`?top=`). */
const DEFAULT_TOP = 5;

/**
 * `POST /api/classify` (body: the image bytes; `?name=` its file name, `?top=` classes to
 * answer): the Fashion-MNIST VRWKV's most probable classes, through the `classify` stage.
 */
export const handleClassify: RouteHandler = async (req, res, url, ctx) => {
  const upload = await readImageUpload(req, url, ctx);
  const clf = await ctx.models.classifier().catch((err: unknown) => {
    throw modelUnavailable('image classification', err);
  });
  const want = Number(url.searchParams.get('top') ?? DEFAULT_TOP);
  const topK = Number.isInteger(want) ? Math.min(Math.max(want, 1), clf.card.labels.length) : DEFAULT_TOP;
  const t0 = performance.now();
  try {
    const r = await measure(
      ctx,
      'classify',
      upload.bytes,
      pipe(
        classify({
          model: clf.model,
          // letterboxed onto black, as the CLI does: Fashion-MNIST garments are light on black
          preprocess: {
            size: clf.card.imageSize,
            policy: 'letterbox',
            mean: clf.card.mean,
            std: clf.card.std,
            channels: clf.card.inChannels,
          },
          labels: clf.card.labels,
          topK,
        }),
        // A per-image failure is a result with `error`; made the stage's error so it is counted.
        map((result) => {
          if (result.error) throw result.error;
          return result;
        }),
      ),
    );
    const body: ClassifyResponse = {
      name: upload.name,
      width: upload.width,
      height: upload.height,
      top: (r.top ?? []).map((t) => ({ label: t.label, probability: t.probability })),
      ms: Math.round(performance.now() - t0),
    };
    sendJson(res, 200, body);
  } catch (err) {
    throw toHttpError(err, upload.name);
  }
};
