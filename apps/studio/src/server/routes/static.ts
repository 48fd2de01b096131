import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RouteHandler } from '../context.js';
import { HttpError } from '../http.js';
import { PAGES, type StudioPage } from '../pages.js';
import { BROWSER_JS_DIR, PUBLIC_DIR } from '../paths.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * What the pages may load: our own scripts and styles, the overlay images and uploads as
 * data/blob URLs, and the API and speech socket on this origin.
 */
const CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'", // chart.js sizes its canvas with inline styles
  "connect-src 'self'",
  "media-src 'self' blob:",
  "frame-ancestors 'none'",
].join('; ');

function send(res: ServerResponse, type: string, body: Buffer | string, cache: boolean): void {
  res.writeHead(200, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': cache ? 'public, max-age=3600' : 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
  });
  res.end(body);
}

/** Reads a file that should be there; a missing one is a 404 naming what to do. */
async function readKnown(file: string, missing: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch {
    throw new HttpError(404, missing, 'NOT_FOUND');
  }
}

const cache = new Map<string, string>();
async function publicText(name: string): Promise<string> {
  let text = cache.get(name);
  if (text === undefined) {
    text = (await readKnown(join(PUBLIC_DIR, name), `${name} is missing from the studio package`)).toString(
      'utf8',
    );
    cache.set(name, text);
  }
  return text;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A page: the layout with the page's title, the nav (the page marked current), its body and scripts. */
async function renderPage(page: StudioPage): Promise<string> {
  const [layout, main] = await Promise.all([publicText('layout.html'), publicText(`pages/${page.id}.html`)]);
  const nav = PAGES.map(
    (p) =>
      `<a href="/${p.id}" data-page="${p.id}"${p.id === page.id ? ' aria-current="page"' : ''}>${escapeHtml(p.title)}</a>`,
  ).join('\n        ');
  const scripts = [
    ...page.vendor.map((src) => `<script src="${src}"></script>`),
    `<script type="module" src="/js/${page.id}.js"></script>`,
  ].join('\n    ');
  // Replaced by function so a `$` in the body is not read as a replacement pattern.
  return layout
    .replace('%title%', () => escapeHtml(page.title))
    .replace('%nav%', () => nav)
    .replace('%main%', () => main)
    .replace('%scripts%', () => scripts)
    .replace('%page%', () => page.id);
}

/** The chart.js browser build (UMD: it defines `window.Chart`), from the installed package. */
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

/** Plain file names only: nothing outside the two folders can be named. */
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * `GET` of pages (`/`, `/images`, `/speech`, `/forecast`, `/pipeline`), static files
 * (`/static/<file>` from public/), the pages' compiled scripts (`/js/<file>`) and
 * `/vendor/chart.umd.min.js`. Unknown paths are 404.
 */
export const handleStatic: RouteHandler = async (_req, res, url) => {
  const path = url.pathname;
  if (path === '/') {
    res.writeHead(302, { location: `/${PAGES[0]!.id}` });
    res.end();
    return;
  }
  const page = PAGES.find((p) => path === `/${p.id}`);
  if (page) return send(res, TYPES['.html']!, await renderPage(page), false);
  if (path === '/vendor/chart.umd.min.js')
    return send(res, TYPES['.js']!, await readKnown(CHART_JS, 'chart.js is not installed'), true);
  const m = /^\/(static|js)\/([^/]+)$/.exec(path);
  const name = m?.[2] ?? '';
  const type = TYPES[name.slice(name.lastIndexOf('.'))];
  if (m && SAFE_NAME.test(name) && type) {
    if (m[1] === 'static')
      return send(res, type, await readKnown(join(PUBLIC_DIR, name), `no such file: ${path}`), false);
    return send(
      res,
      type,
      await readKnown(
        join(BROWSER_JS_DIR, name),
        `no such script: ${path} (the pages' scripts are built by \`pnpm build\`)`,
      ),
      false,
    );
  }
  throw new HttpError(404, `nothing at ${path}`, 'NOT_FOUND');
};
