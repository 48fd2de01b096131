import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ApiError,
  ClassifyResponse,
  ForecastResponse,
  MetricsResponse,
  SegmentResponse,
  StudioConfig,
} from '../protocol.js';
import { type StudioServer, startStudio } from './studio.js';
import { ETTH1_CSV, garmentPng, repoFile, SCENE } from './test-support.js';

/**
 * The studio's HTTP side on the shipped models: every page and route answers, each model
 * route gives the model's answer, and every kind of bad request (too big, wrong type,
 * corrupt, malformed, wrong method, foreign origin, too slow) gets a clear JSON error while
 * the server goes on serving.
 */
let studio: StudioServer;
const UPLOAD_LIMIT = 256 * 1024;

beforeAll(async () => {
  studio = await startStudio({ limits: { maxUploadBytes: UPLOAD_LIMIT, maxImagePixels: 512 * 512 } });
});
afterAll(async () => {
  await studio.close();
});

async function call<T = unknown>(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: T; type: string | null }> {
  const res = await fetch(`${studio.url}${path}`, { redirect: 'manual', ...init });
  const type = res.headers.get('content-type');
  const text = await res.text();
  return {
    status: res.status,
    type,
    body: (type?.startsWith('application/json') ? JSON.parse(text) : text) as T,
  };
}

/** Sends raw bytes of HTTP and gives what came back until the server closed. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(studio.port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (d) => {
      text += String(d);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

const post = <T = unknown>(path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  call<T>(path, { method: 'POST', body, headers });

describe('pages and files', () => {
  it('listens on 127.0.0.1 by default, on a free port', () => {
    expect(studio.host).toBe('127.0.0.1');
    expect(studio.url).toBe(`http://127.0.0.1:${studio.port}`);
    expect(studio.port).toBeGreaterThan(0);
  });

  it('/ goes to the first page; every page has the nav (itself marked) and its script', async () => {
    const home = await call('/');
    expect(home.status).toBe(302);
    for (const page of ['images', 'speech', 'forecast', 'pipeline']) {
      const r = await call<string>(`/${page}`);
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/html/);
      expect(r.body).toContain(`<script type="module" src="/js/${page}.js"></script>`);
      expect(r.body).toContain(`<a href="/${page}" data-page="${page}" aria-current="page">`);
      for (const other of ['images', 'speech', 'forecast', 'pipeline'])
        expect(r.body).toContain(`href="/${other}"`);
      expect(r.body).not.toMatch(/%(title|nav|main|scripts|page)%/);
    }
    expect((await call<string>('/forecast')).body).toContain(
      '<script src="/vendor/chart.umd.min.js"></script>',
    );
  });

  it('serves the stylesheet, the built page scripts and chart.js; nothing else', async () => {
    expect((await call('/static/styles.css')).type).toMatch(/^text\/css/);
    for (const js of ['images', 'speech', 'forecast', 'pipeline', 'common', 'pcm-worklet']) {
      const r = await call(`/js/${js}.js`);
      expect(r.status, `${js}.js is built by pnpm build`).toBe(200);
      expect(r.type).toMatch(/^text\/javascript/);
    }
    const chart = await call<string>('/vendor/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(chart.body.length).toBeGreaterThan(100_000);
    for (const bad of [
      '/static/..%2Fpackage.json',
      '/js/..%2F..%2Fpackage.json',
      '/static/nope.css',
      '/etc/passwd',
      '/js/x.exe',
    ]) {
      const r = await call<ApiError>(bad);
      expect(r.status, bad).toBe(404);
      expect(r.body.error).toMatch(/^(nothing at|no such)/);
    }
  });

  it('/api/config gives the limits and what the models expect', async () => {
    const { status, body } = await call<StudioConfig>('/api/config');
    expect(status).toBe(200);
    expect(body.maxUploadBytes).toBe(UPLOAD_LIMIT);
    expect(body.forecast).toEqual({
      columns: ['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT'],
      seqLen: 336,
      predLen: 96,
    });
    expect(body.classify?.labels).toContain('Ankle boot');
    expect(body.segment?.labels).toHaveLength(11);
  });

  it('serves the samples the pages offer, and only those', async () => {
    for (const name of ['garment-1.png', 'scene.png', 'ETTh1-last-1000.csv', 'speech.wav'])
      expect((await call(`/samples/${name}`)).status, name).toBe(200);
    expect((await call('/samples/..%2F..%2Fpackage.json')).status).toBe(404);
  });
});

describe('the model routes', () => {
  it('classifies a Fashion-MNIST garment as its true class', async () => {
    const { png, label } = await garmentPng(3);
    const r = await post<ClassifyResponse>('/api/classify?name=garment.png&top=3', png, {
      'content-type': 'image/png',
    });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('garment.png');
    expect([r.body.width, r.body.height]).toEqual([112, 112]);
    expect(r.body.top).toHaveLength(3);
    expect(r.body.top[0]!.label).toBe(label);
    const sum = r.body.top.reduce((s, t) => s + t.probability, 0);
    expect(sum).toBeLessThanOrEqual(1 + 1e-6);
    expect(r.body.top[0]!.probability).toBeGreaterThanOrEqual(r.body.top[1]!.probability);
  });

  it('segments an MNIST scene: the digits in it, and an overlay PNG at its size', async () => {
    const r = await post<SegmentResponse>('/api/segment?name=scene.png', repoFile(SCENE.path));
    expect(r.status).toBe(200);
    expect(r.body.found.map((f) => f.label).sort()).toEqual([...SCENE.digits]);
    for (const f of r.body.found) expect(f.color).toMatch(/^#[0-9a-f]{6}$/);
    expect(r.body.overlay).toMatch(/^data:image\/png;base64,/);
    const meta = await sharp(Buffer.from(r.body.overlay.split(',')[1]!, 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
  });

  it('forecasts a CSV: the history window and the next rows of every column, hourly', async () => {
    const csv = repoFile(ETTH1_CSV);
    const r = await post<ForecastResponse>('/api/forecast?name=etth1.csv&horizon=24', csv, {
      'content-type': 'text/csv',
    });
    expect(r.status).toBe(200);
    expect(r.body.rows).toBe(1000);
    expect(r.body.horizon).toBe(24);
    expect(r.body.history.values).toHaveLength(7);
    expect(r.body.history.values[6]).toHaveLength(336);
    expect(r.body.forecast.values.every((v) => v.length === 24 && v.every(Number.isFinite))).toBe(true);
    const lastHistory = Date.parse(`${r.body.history.times!.at(-1)!.replace(' ', 'T')}Z`);
    const firstForecast = Date.parse(`${r.body.forecast.times![0]!.replace(' ', 'T')}Z`);
    expect(firstForecast - lastHistory).toBe(3600_000);
  });
});

describe('bad requests get clear errors and the server goes on', () => {
  const png = () => repoFile(SCENE.path);

  it('an upload over the limit is 413, whether declared or streamed', async () => {
    const big = Buffer.alloc(UPLOAD_LIMIT + 1, 7);
    const r = await post<ApiError>('/api/classify?name=big.png', big);
    expect(r.status).toBe(413);
    expect(r.body).toEqual({
      error: 'the upload is larger than the studio takes (at most 0.25 MB)',
      code: 'TOO_LARGE',
    });
    // streamed without a length: the limit still holds while it arrives
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(64 * 1024));
        c.close();
      },
    });
    const s = await call<ApiError>('/api/forecast', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(s.status).toBe(413);
    expect(s.body.code).toBe('TOO_LARGE');
  });

  it('a file that is not an image is 415, saying what it looks like', async () => {
    const cases: [Buffer | string, string][] = [
      ['just some text', 'text'],
      [repoFile('packages/audio/fixtures/speech/flite-kal.wav'), 'a WAV file'],
      [Buffer.from([0, 1, 2, 3, 250, 251]), 'binary data of an unknown kind'],
      ['', 'an empty file'],
    ];
    for (const [body, looks] of cases) {
      const r = await post<ApiError>('/api/segment?name=notes.png', body, { 'content-type': 'image/png' });
      expect(r.status).toBe(415);
      expect(r.body.error).toBe(
        `notes.png is not an image the studio reads (PNG, JPEG, GIF, WebP, TIFF or AVIF); it looks like ${looks}`,
      );
    }
  });

  it('a corrupt or truncated PNG is 422 naming the file', async () => {
    const truncated = png().subarray(0, 120);
    for (const route of ['classify', 'segment']) {
      const r = await post<ApiError>(`/api/${route}?name=broken.png`, truncated);
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('MALFORMED_FILE');
      expect(r.body.error).toMatch(/^broken\.png: /);
      expect(r.body.error).not.toContain('bytes>');
    }
    const header = Buffer.concat([png().subarray(0, 8), Buffer.from('garbage after the signature')]);
    const r = await post<ApiError>('/api/classify?name=fake.png', header);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatch(/^fake\.png: cannot read the PNG image/);
  });

  it('an image over the pixel limit is refused before any model sees it', async () => {
    const huge = await sharp({ create: { width: 1000, height: 600, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const r = await post<ApiError>('/api/segment?name=huge.png', huge);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({
      error: 'huge.png is 1000x600 pixels; the studio takes images of at most 262144 pixels (e.g. 512x512)',
      code: 'IMAGE_TOO_LARGE',
    });
  });

  it('a malformed CSV is 422 naming the row and column; a non-CSV 415', async () => {
    const header = 'date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT';
    const row = (h: number, v = '1') =>
      `2020-01-01 ${String(h).padStart(2, '0')}:00:00,${Array(7).fill(v).join(',')}`;
    const cases: [string, number, RegExp][] = [
      [
        `${header}\n${row(0)}\n${row(1, 'abc')}\n`,
        422,
        /^data\.csv: row 3, column 'HUFL': 'abc' is not a number$/,
      ],
      [`${header}\n${row(0)}\n1,2,3\n`, 422, /row 3 has 3 cells, the header has 8/],
      [`${header}\n${row(1)}\n${row(0)}\n`, 422, /does not come after the previous row's time/],
      [
        'date,a,b\n2020-01-01,1,2\n',
        422,
        /^data\.csv: the series has 2 columns \(a, b\), the model was trained on 7 \(HUFL, /,
      ],
      [
        `${header}\n${row(0)}\n${row(1)}\n`,
        422,
        /^data\.csv: the history has 2 rows, the model looks back 336$/,
      ],
      [`${header}\n"unclosed,1,2\n`, 422, /^data\.csv is not a valid CSV: /],
      [
        'no commas here\njust lines\n',
        415,
        /its first line should be a header of comma-separated column names/,
      ],
    ];
    for (const [csv, status, message] of cases) {
      const r = await post<ApiError>('/api/forecast?name=data.csv', csv, { 'content-type': 'text/csv' });
      expect(r.status, csv.slice(0, 60)).toBe(status);
      expect(r.body.error).toMatch(message);
      expect(r.body.error).not.toContain('rwkv-studio-');
    }
    const binary = await post<ApiError>('/api/forecast?name=data.csv', repoFile(SCENE.path));
    expect(binary.status).toBe(415);
    expect(binary.body.error).toBe('data.csv is not a CSV text file; it looks like a PNG image');
    const horizon = await post<ApiError>('/api/forecast?horizon=500', repoFile(ETTH1_CSV));
    expect(horizon.status).toBe(400);
    expect(horizon.body.error).toBe('horizon must be a whole number from 1 to 96');
  });

  it('a wrong method is 405, an unknown API path 404, a foreign page 403', async () => {
    const get = await call<ApiError>('/api/classify');
    expect(get.status).toBe(405);
    expect(get.body.error).toBe('/api/classify takes POST, not GET');
    expect((await post<ApiError>('/api/nothing', 'x')).status).toBe(404);
    const foreign = await post<ApiError>('/api/classify', png(), { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('requests from another site are refused');
    const ours = await post<ClassifyResponse>('/api/classify', png(), { origin: studio.url });
    expect(ours.status).toBe(200);
  });

  it('a request target that is not a URL is 400, on HTTP and on the socket path', async () => {
    for (const head of [
      'GET http://[ HTTP/1.1',
      'GET http://[ HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade',
    ]) {
      const answer = await raw(`${head}\r\nhost: 127.0.0.1\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
    }
    expect((await call('/images')).status).toBe(200);
  });

  it('on localhost, a request naming another host (DNS rebinding) is 403', async () => {
    const answer = await raw(
      'GET /api/metrics HTTP/1.1\r\nhost: evil.example:80\r\nconnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain('{"error":"this studio answers only to localhost","code":"FORBIDDEN"}');
    for (const host of [`localhost:${studio.port}`, `127.0.0.1:${studio.port}`])
      expect((await call('/api/metrics', { headers: { host } })).status).toBe(200);
  });

  it('a request whose body never comes is cut off at the request timeout', async () => {
    const slow = await startStudio({ limits: { requestTimeoutMs: 400, headersTimeoutMs: 400 } });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(slow.port, '127.0.0.1', () => {
          socket.write('POST /api/classify HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000\r\n\r\nabc');
        });
        let text = '';
        socket.on('data', (d) => {
          text += String(d);
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('not cut off within 5 s')), 5000);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await slow.close();
    }
  });

  it('after all that, the server still answers, and the errors are counted per stage', async () => {
    const { png: g, label } = await garmentPng(77);
    const r = await post<ClassifyResponse>('/api/classify', g);
    expect(r.status).toBe(200);
    expect(r.body.top[0]!.label).toBe(label);
    const m = await call<MetricsResponse>('/api/metrics');
    const stage = (name: string) => m.body.stages.find((s) => s.stage === name)!;
    expect(stage('classify').errors).toBeGreaterThanOrEqual(1);
    expect(stage('classify').itemsOut).toBeGreaterThanOrEqual(3);
    expect(stage('classify').inFlight).toBe(0);
    expect(stage('forecast.csv').errors).toBeGreaterThanOrEqual(4);
    expect(stage('forecast').errors).toBeGreaterThanOrEqual(2);
    expect(stage('segment').latency.count).toBeGreaterThanOrEqual(1);
    const prom = await call<string>('/metrics');
    expect(prom.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(prom.body).toContain('rwkv_streams_stage_items_in_total{stage="classify"}');
    expect(prom.body).toMatch(/rwkv_streams_stage_errors_total\{stage="forecast\.csv"\} [4-9]/);
  });
});

describe('without models', () => {
  it('a page whose model is missing gets 503 naming it; the rest of the studio works', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'rwkv-studio-nomodels-'));
    const bare = await startStudio({ modelsDir: empty });
    try {
      const r = await fetch(`${bare.url}/api/classify`, { method: 'POST', body: repoFile(SCENE.path) });
      expect(r.status).toBe(503);
      const body = (await r.json()) as ApiError;
      expect(body.code).toBe('MODEL_UNAVAILABLE');
      expect(body.error).toMatch(/^the image classification model is not available: .*vrwkv-fashion-mnist/);
      const config = (await (await fetch(`${bare.url}/api/config`)).json()) as StudioConfig;
      expect([config.classify, config.segment, config.forecast]).toEqual([null, null, null]);
      expect((await fetch(`${bare.url}/images`)).status).toBe(200);
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
