import type { StudioConfig } from '../../protocol.js';
import type { RouteHandler } from '../context.js';
import { sendJson } from '../http.js';

/**
 * `GET /api/config`: the limits (the pages check a file before uploading it) and what the
 * models expect (the forecast page names the columns; null for a model that cannot be
 * loaded, whose page then says so when used). Loads the vision and forecast models if
 * they are not yet, which also warms them for the first request.
 */
export const handleConfig: RouteHandler = async (_req, res, _url, ctx) => {
  const [clf, seg, fc] = await Promise.allSettled([
    ctx.models.classifier(),
    ctx.models.segmenter(),
    ctx.models.forecaster(),
  ]);
  const body: StudioConfig = {
    maxUploadBytes: ctx.limits.maxUploadBytes,
    maxImagePixels: ctx.limits.maxImagePixels,
    maxSpeechSeconds: ctx.limits.maxSpeechSeconds,
    forecast:
      fc.status === 'fulfilled'
        ? { columns: fc.value.card.columns, seqLen: fc.value.card.seqLen, predLen: fc.value.card.predLen }
        : null,
    classify: clf.status === 'fulfilled' ? { labels: clf.value.card.labels } : null,
    segment: seg.status === 'fulfilled' ? { labels: seg.value.card.labels } : null,
  };
  sendJson(res, 200, body);
};
