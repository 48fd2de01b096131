import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PipelineMetrics } from '@rwkv-streams/core';
import type { RouteHandler, StudioContext } from './context.js';
import { toHttpError } from './errors.js';
import { HttpError, sendError } from './http.js';
import { resolveLimits, type StudioLimits } from './limits.js';
import { SHIPPED_MODELS_DIR, StudioModels } from './models.js';
import { handleClassify } from './routes/classify.js';
import { handleConfig } from './routes/config.js';
import { handleForecast } from './routes/forecast.js';
import { handleMetricsJson, handlePrometheus } from './routes/metrics.js';
import { handleSample } from './routes/samples.js';
import { handleSegment } from './routes/segment.js';
import { createSpeechSockets, SPEECH_SOCKET_PATH } from './routes/speech-socket.js';
import { handleStatic } from './routes/static.js';

/** Options of {@link startStudio}. */
export interface StudioOptions {
  /** The address to listen on (default 127.0.0.1: only this machine can reach the studio). */
  readonly host?: string;
  /** The port (default 0: any free one; the URL says which). */
  readonly port?: number;
  /** The folder holding the model folders (default: the repository's models/). */
  readonly modelsDir?: string;
  /** Limits to change (the rest are DEFAULT_LIMITS). */
  readonly limits?: Partial<StudioLimits>;
}

/** A running studio. */
export interface StudioServer {
  /** Where it listens, e.g. `http://127.0.0.1:5173`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The figures of every stage every request went through. */
  readonly metrics: PipelineMetrics;
  /** Stops listening, ends open connections and sockets, releases the models. */
  close(): Promise<void>;
}

/** The API routes: method and exact path (or a prefix ending in `/`). */
const ROUTES: readonly { method: 'GET' | 'POST'; path: string; handler: RouteHandler }[] = [
  { method: 'GET', path: '/api/config', handler: handleConfig },
  { method: 'GET', path: '/api/metrics', handler: handleMetricsJson },
  { method: 'GET', path: '/metrics', handler: handlePrometheus },
  { method: 'POST', path: '/api/classify', handler: handleClassify },
  { method: 'POST', path: '/api/segment', handler: handleSegment },
  { method: 'POST', path: '/api/forecast', handler: handleForecast },
  { method: 'GET', path: '/samples/', handler: handleSample },
];

const matches = (path: string, route: string) =>
  route.endsWith('/') ? path.startsWith(route) : path === route;

/**
 * Whether a request comes from our own pages (or from no page at all: curl, scripts).
 * A page of another site may send requests to localhost; it always names its origin, and
 * it is refused, so uploads and the speech socket cannot be driven from elsewhere.
 */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The request's target as a URL; an unparsable one (`GET http://[`) is a 400, not a crash. */
function parseTarget(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://studio.invalid');
  } catch {
    throw new HttpError(400, 'the request target is not a URL path', 'BAD_REQUEST');
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Whether the Host header names this machine, for a studio listening on a loopback
 * address: a page of another site that points its own name at 127.0.0.1 (DNS rebinding)
 * sends its own name as Host, and is refused. A studio on another address takes any Host.
 */
function loopbackHost(req: IncomingMessage, listening: string): boolean {
  if (!LOOPBACK.has(listening)) return true;
  const host = req.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return LOOPBACK.has(name.toLowerCase());
}

/**
 * Starts the web studio: the pages, the JSON API over the shipped models (loaded on first
 * use, shared by all requests), the speech WebSocket, `/metrics`. Every upload is bounded
 * in size and checked by its bytes, every request in time; a bad input is an error answer
 * naming the problem and the server goes on.
 */
export async function startStudio(options: StudioOptions = {}): Promise<StudioServer> {
  const limits = resolveLimits(options.limits);
  const ctx: StudioContext = {
    models: new StudioModels(options.modelsDir ?? SHIPPED_MODELS_DIR),
    registry: new PipelineMetrics(),
    limits,
  };
  const speech = createSpeechSockets(ctx);
  const host = options.host ?? '127.0.0.1';
  // Node checks the request and header timeouts on this interval (default 30 s): often
  // enough that a timeout fires within a quarter of its length.
  const connectionsCheckingInterval = Math.max(
    50,
    Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
  );
  const server = createServer({ connectionsCheckingInterval }, async (req, res) => {
    try {
      const url = parseTarget(req);
      if (!loopbackHost(req, host))
        throw new HttpError(403, 'this studio answers only to localhost', 'FORBIDDEN');
      const route = ROUTES.find((r) => matches(url.pathname, r.path));
      if (route && req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
        res.setHeader('allow', route.method);
        throw new HttpError(
          405,
          `${url.pathname} takes ${route.method}, not ${req.method}`,
          'METHOD_NOT_ALLOWED',
        );
      }
      if (req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req))
        throw new HttpError(403, 'requests from another site are refused', 'FORBIDDEN');
      if (route) await route.handler(req, res, url, ctx);
      else if (req.method === 'GET' || req.method === 'HEAD') await handleStatic(req, res, url, ctx);
      else throw new HttpError(404, `nothing at ${url.pathname}`, 'NOT_FOUND');
    } catch (err) {
      sendError(res, toHttpError(err));
    }
  });
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  // A request too slow or malformed: answer with its status instead of dropping the socket.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });
  server.on('upgrade', (req, socket, head) => {
    let path: string;
    try {
      path = parseTarget(req).pathname;
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if (path !== SPEECH_SOCKET_PATH || !sameOrigin(req) || !loopbackHost(req, host)) {
      socket.end(
        `HTTP/1.1 ${path !== SPEECH_SOCKET_PATH ? '404 Not Found' : '403 Forbidden'}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    speech.upgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shown}:${port}`,
    host,
    port,
    metrics: ctx.registry,
    async close() {
      speech.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await ctx.models.dispose();
    },
  };
}
