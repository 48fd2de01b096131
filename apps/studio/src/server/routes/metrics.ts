import type { MetricsResponse } from '../../protocol.js';
import type { RouteHandler } from '../context.js';
import { sendJson } from '../http.js';

const started = performance.now();

/** `GET /api/metrics`: every stage's figures as JSON (what the pipeline page polls). */
export const handleMetricsJson: RouteHandler = (_req, res, _url, ctx) => {
  const body: MetricsResponse = {
    uptime: Math.round(performance.now() - started) / 1000,
    stages: ctx.registry.snapshot(),
  };
  sendJson(res, 200, body);
};

/** `GET /metrics`: the same figures in Prometheus text format, for a scraper. */
export const handlePrometheus: RouteHandler = (_req, res, _url, ctx) => {
  const text = ctx.registry.toPrometheus();
  res.writeHead(200, {
    'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
};
