import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_JS_DIR } from '../../src/server/paths.js';
import { type StudioServer, startStudio } from '../../src/server/studio.js';
import { ETTH1_CSV, garmentPng, repoFile, SCENE, SPEECH_WAV } from '../../src/server/test-support.js';

/**
 * The studio end to end in real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; `scripts/ensure-chromium.sh` installs it): every page driven as a person
 * would (files picked and dropped, the microphone recorded from a fake device playing a
 * known utterance, a chart hovered), the DOM checked, and a screenshot of each page saved
 * to test/screenshots/ (STUDIO_SCREENSHOTS=DIR saves them elsewhere).
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = process.env['STUDIO_SCREENSHOTS'] ?? fileURLToPath(new URL('../screenshots/', import.meta.url));
const VIEWPORT = { width: 1100, height: 750 };

let studio: StudioServer;
let browser: Browser;
let context: BrowserContext;
/** Errors the pages threw or logged (failed requests the tests provoke on purpose are left out). */
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is not at ${CHROMIUM}: the browser tests need Debian's chromium package (bash scripts/ensure-chromium.sh installs it; apt-get install chromium) or CHROMIUM_PATH set to a Chromium binary`,
    );
  if (!existsSync(join(BROWSER_JS_DIR, 'images.js')))
    throw new Error(`the pages' scripts are not built (${BROWSER_JS_DIR}): run pnpm build first`);
  mkdirSync(SHOTS, { recursive: true });
  studio = await startStudio();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      // The microphone: permission granted, and a fake device that plays the utterance once.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${join(fileURLToPath(new URL('../../../../', import.meta.url)), SPEECH_WAV)}%noloop`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
});

afterAll(async () => {
  await browser?.close();
  await studio?.close();
});

async function openPage(path: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      pageErrors.push(`${path}: ${m.text()}`);
  });
  await page.goto(`${studio.url}${path}`);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

/** Drops a file on an element the way a person dragging it from the desktop would. */
async function dropFile(
  page: Page,
  selector: string,
  name: string,
  type: string,
  bytes: Buffer,
): Promise<void> {
  const transfer = await page.evaluateHandle(
    ({ name, type, data }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(data)], name, { type }));
      return dt;
    },
    { name, type, data: [...bytes] },
  );
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

describe('the studio in Chromium', () => {
  it('Images: a picked garment gets its class with bars; a dropped scene its overlay; a bad file a message', async () => {
    const page = await openPage('/images');
    expect(await page.title()).toBe('Images · rwkv-streams studio');
    expect(await page.getAttribute('nav a[aria-current="page"]', 'href')).toBe('/images');

    // not an image: refused with a message, and the page keeps working
    await page.setInputFiles('#file', {
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('hello'),
    });
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toBe(
      'notes.png is not an image the studio reads (PNG, JPEG, GIF, WebP, TIFF or AVIF); it looks like text',
    );

    const { png, label } = await garmentPng(3);
    await page.setInputFiles('#file', { name: 'garment.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('.label-row.top');
    expect(await page.getAttribute('.label-row.top', 'data-label')).toBe(label);
    expect(await page.locator('.label-row').count()).toBe(5);
    const width = await page.$eval('.label-row.top .bar-fill', (e) => (e as HTMLElement).style.width);
    expect(Number.parseFloat(width)).toBeGreaterThan(30);
    expect(await page.textContent('#status')).toBe(`garment.png: ${label}`);
    await shot(page, 'images-classify');

    await page.check('input[name="task"][value="segment"]');
    await dropFile(page, '#drop', 'scene.png', 'image/png', repoFile(SCENE.path));
    await page.waitForSelector('#overlay-figure:not([hidden]) .legend-item');
    await page.waitForFunction(() =>
      (document.getElementById('caption')?.textContent ?? '').startsWith('scene.png'),
    );
    const found = await page.$$eval('.legend-item', (els) => els.map((e) => e.getAttribute('data-label')));
    expect(found.sort()).toEqual([...SCENE.digits]);
    const size = await page.$eval('#overlay', (img) => [
      (img as HTMLImageElement).naturalWidth,
      (img as HTMLImageElement).naturalHeight,
    ]);
    expect(size).toEqual([64, 64]);
    expect(await page.isHidden('#labels')).toBe(true);
    await shot(page, 'images-segment');
    await page.close();
  });

  it('Forecast: a bad CSV gets a message; the ETTh1 CSV a chart of history and forecast, by column, with tooltips', async () => {
    const page = await openPage('/forecast');
    await page.waitForFunction(() => document.getElementById('expects')?.textContent?.includes('HUFL'));
    await page.setInputFiles('#file', {
      name: 'bad.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('date,HUFL\n2020-01-01 00:00:00,1\n2020-01-01 01:00:00,oops\n'),
    });
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toBe("bad.csv: row 3, column 'HUFL': 'oops' is not a number");

    await page.setInputFiles('#file', {
      name: 'ETTh1.csv',
      mimeType: 'text/csv',
      buffer: repoFile(ETTH1_CSV),
    });
    await page.waitForSelector('#chart-box:not([hidden])');
    expect(await page.isHidden('#status')).toBe(true);
    expect(await page.getAttribute('#chart-box', 'data-points')).toBe(String(336 + 96));
    expect(await page.$$eval('#column option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      'HUFL',
      'HULL',
      'MUFL',
      'MULL',
      'LUFL',
      'LULL',
      'OT',
    ]);
    expect(await page.inputValue('#column')).toBe('OT');
    await page.selectOption('#column', 'HUFL');
    await page.waitForSelector('#chart-box[data-column="HUFL"]');
    const legend = await page.evaluate(() => {
      const chart = (
        window as unknown as {
          Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { label: string }[] } } };
        }
      ).Chart.getChart(document.getElementById('chart') as HTMLCanvasElement);
      return chart.data.datasets.map((d) => d.label);
    });
    expect(legend).toEqual(['HUFL history', 'HUFL forecast']);
    expect(await page.textContent('#summary')).toMatch(
      /^ETTh1\.csv: 1000 rows; the last 336 drawn as history, 96 forecast \(to 2018-06-30 19:00:00\) in \d+ ms\.$/,
    );
    // hover inside the forecast part of the chart: the tooltip shows its value
    const box = (await page.locator('#chart').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.88, box.y + box.height * 0.5);
    await page.waitForFunction(() => {
      const c = (
        window as unknown as {
          Chart: { getChart(c: HTMLCanvasElement): { tooltip: { getActiveElements(): unknown[] } } };
        }
      ).Chart.getChart(document.getElementById('chart') as HTMLCanvasElement);
      return c.tooltip.getActiveElements().length > 0;
    });
    await shot(page, 'forecast');
    await page.close();
  });

  it('Speech: recording the microphone gives partials, then a final with words; an uploaded WAV too', async () => {
    const page = await openPage('/speech');
    // Every text the live line shows, to check partials came before the final.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { partials: string[] }).partials = seen;
      const el = document.getElementById('partial')!;
      new MutationObserver(() => {
        if (el.textContent) seen.push(el.textContent);
      }).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#record');
    await page.waitForSelector('#record.recording');
    await page.waitForFunction(
      () => (window as unknown as { partials: string[] }).partials.length > 0,
      undefined,
      {
        timeout: 60_000,
      },
    );
    await page.waitForFunction(
      () => (document.getElementById('partial')?.textContent ?? '').length >= 6,
      undefined,
      {
        timeout: 60_000,
      },
    );
    await shot(page, 'speech-live');
    // The fake microphone plays the utterance once, then silence: the endpoint ends it.
    await page.waitForSelector('.final', { timeout: 60_000 }).catch(() => undefined);
    await page.click('#record');
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.startsWith('Done:'),
      undefined,
      {
        timeout: 60_000,
      },
    );
    const partials = await page.evaluate(() => (window as unknown as { partials: string[] }).partials);
    expect(partials.length).toBeGreaterThan(0);
    const recorded = await page.$$eval('.final .word', (ws) => ws.map((w) => w.textContent));
    expect(recorded.length).toBeGreaterThan(0);

    await page.setInputFiles('#audio-file', {
      name: 'kal.wav',
      mimeType: 'audio/wav',
      buffer: repoFile(SPEECH_WAV),
    });
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.startsWith('Done: 1.'),
      undefined,
      { timeout: 60_000 },
    );
    expect(await page.textContent('#status')).toMatch(/^Done: 1\.\d\d s of kal\.wav transcribed\.$/);
    const finals = await page.$$eval('.final', (fs) =>
      fs.map((f) => ({
        times: f.querySelector('.times')?.textContent,
        words: f.querySelectorAll('.word').length,
      })),
    );
    expect(finals.length).toBeGreaterThanOrEqual(2);
    for (const f of finals) {
      expect(f.times).toMatch(/^\d+\.\d\d–\d+\.\d\d s$/);
      expect(f.words).toBeGreaterThan(0);
    }
    // The uploaded file is the same utterance: its first word is "as"
    expect(await page.textContent('.final:last-child .word')).toBe('as');
    expect(await page.isEnabled('#record')).toBe(true);
    await shot(page, 'speech');
    await page.close();
  });

  it('Pipeline: every stage the other pages used, with counts, errors and latencies, refreshing', async () => {
    const page = await openPage('/pipeline');
    await page.waitForSelector('tr[data-stage="speech.transcribe"]');
    const rows = await page.$$eval('#stages-body tr', (trs) =>
      trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')),
    );
    const byStage = new Map(rows.map((r) => [r[0], r]));
    for (const stage of [
      'classify',
      'segment',
      'segment.overlay',
      'forecast.csv',
      'forecast',
      'speech.decode',
      'speech.transcribe',
    ]) {
      const row = byStage.get(stage);
      expect(row, stage).toBeDefined();
      expect(Number(row![1]), `${stage} in`).toBeGreaterThan(0);
      expect(Number(row![2]), `${stage} out`).toBeGreaterThan(0);
    }
    // the bad CSV was counted as an error of its stage
    expect(Number(byStage.get('forecast.csv')![4])).toBe(1);
    expect(byStage.get('classify')![7]).toMatch(/ms|s$/);
    // the flow diagram shows the same figures
    const overlay = byStage.get('segment.overlay')!;
    expect(await page.textContent('.stage[data-stage="segment.overlay"] .stage-figures')).toMatch(
      new RegExp(`^${overlay[1]} → ${overlay[2]}p50 \\d`),
    );
    // it refreshes: a new request shows up without reloading
    const before = Number(byStage.get('classify')![1]);
    const { png } = await garmentPng(205);
    await fetch(`${studio.url}/api/classify`, { method: 'POST', body: png });
    await page.waitForFunction(
      (n) => Number(document.querySelector('tr[data-stage="classify"] td')?.textContent) === n,
      before + 1,
      { timeout: 5000 },
    );
    await shot(page, 'pipeline');
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});

/** Sizes of the screenshots (the tests keep them small enough to commit). */
export const screenshotBytes = (name: string): number => readFileSync(join(SHOTS, `${name}.png`)).length;
