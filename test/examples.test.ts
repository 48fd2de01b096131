import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ByteLanguageModel, loadRwkvModel } from '@rwkv-streams/core';
import { forecastSeries, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));

/** Every example runs in CI, and the README's code does what it says. */
describe('examples and README', () => {
  it("examples/generate-text (the demo's text part) runs and generates text in all three forked streams", async () => {
    const { stdout } = await run(
      process.execPath,
      ['examples/generate-text/dist/main.js', '--tokens', '40'],
      { cwd: root },
    );
    expect(stdout).toMatch(/RWKV-7 byte-level LM: 6 layers x 256/);
    expect(stdout).toMatch(/--- 40 bytes in/);
    expect(stdout).toMatch(/240 tokens in 80 batched model calls/);
    for (const key of ['a', 'b', 'c']) expect(stdout).toContain(`[${key}] A process is `);
  });

  it('examples/classify-images classifies its samples in order and reports the broken file alone', async () => {
    const { stdout } = await run(process.execPath, ['examples/classify-images/dist/main.js'], { cwd: root });
    expect(stdout).toMatch(/VRWKV 6 x 128 \(4x4 patches\)/);
    const lines = stdout.split('\n').filter((l) => l.startsWith('#'));
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['#0', '#1', '#2', '#3', '#4', '#5', '#6', '#7', '#8']);
    expect(lines[4]).toMatch(/not-an-image\.png: error MALFORMED_FILE: .*cannot decode image/);
    const m = /(\d+)\/8 samples classified correctly; 1 error\(s\)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(6);
  });

  it('examples/segment-images segments its samples in order, writes mask and overlay PNGs, reports the broken file alone', async () => {
    const out = mkdtempSync(join(tmpdir(), 'segment-images-'));
    const { stdout } = await run(process.execPath, ['examples/segment-images/dist/main.js', '--out', out], {
      cwd: root,
    });
    expect(stdout).toMatch(/VRWKV segmenter 6 x 96 \(4x4 patches, 11 classes\) on cpu, tile/);
    const lines = stdout.split('\n').filter((l) => l.startsWith('#'));
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['#0', '#1', '#2', '#3', '#4', '#5']);
    expect(lines[2]).toMatch(/not-an-image\.png: error MALFORMED_FILE: .*cannot decode image/);
    expect(lines[5]).toMatch(/two-scenes-wide\.png 128x64: digits /);
    const m = /(\d+)\/5 samples with exactly the true digits found; 1 error\(s\)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(4);
    for (const name of ['scene-0', 'scene-4', 'scene-9', 'scene-12', 'two-scenes-wide'])
      for (const kind of ['mask', 'overlay']) {
        const png = readFileSync(join(out, `${name}-${kind}.png`));
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect(png.readUInt32BE(16)).toBe(name === 'two-scenes-wide' ? 128 : 64); // IHDR width
        expect(png[25]).toBe(kind === 'mask' ? 3 : 2); // IHDR colour type: 3 palette, 2 RGB
      }
  });

  const ett = join(root, '../shared/data/ett/ETTh1.csv');
  it.skipIf(!existsSync(ett))(
    'examples/forecast-csv writes history + forecast as CSV (the library forecast) and a PNG chart',
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'forecast-csv-'));
      const { stdout } = await run(
        process.execPath,
        [
          'examples/forecast-csv/dist/main.js',
          '--csv',
          ett,
          '--horizon',
          '24',
          '--history',
          '48',
          '--out-dir',
          out,
        ],
        { cwd: root },
      );
      expect(stdout).toMatch(/forecast 24 rows from the last 336/);
      const lines = readFileSync(join(out, 'forecast.csv'), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('date,kind,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT');
      expect(lines.length).toBe(1 + 48 + 24);
      expect(lines[49]).toMatch(/^2018-06-26 20:00:00,forecast,/);
      const loaded = loadForecastModel(join(root, 'models/rwkv-ts-etth1-96'));
      const f = await forecastSeries(loaded, await readSeriesCsv(ett), 24);
      await loaded.model.dispose();
      lines.slice(49).forEach((line, r) => {
        line
          .split(',')
          .slice(2)
          .map(Number)
          .forEach((v, c) => {
            expect(Math.abs(v - f.values[r * 7 + c]!)).toBeLessThan(1e-5 * (1 + Math.abs(v)));
          });
      });
      const png = readFileSync(join(out, 'forecast.png'));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.readUInt32BE(16)).toBeGreaterThan(900); // IHDR width: the 900-pixel plot plus axes
      expect(png.readUInt32BE(20)).toBeGreaterThan(320);
    },
  );

  it('examples/anomaly-scores finds every fault injected into a live stream', async () => {
    const { stdout } = await run(process.execPath, ['examples/anomaly-scores/dist/main.js'], { cwd: root });
    expect(stdout).toMatch(/^1000 readings of 7 channels scored/);
    for (const fault of ['spike', 'dropout to 0', 'stuck sensor'])
      expect(stdout).toContain(`<- injected: ${fault}`);
    expect(stdout).toMatch(/found 3\/3 injected faults/);
  });

  it('examples/demo runs the three tasks on the shipped models and samples', async () => {
    const { stdout } = await run(process.execPath, ['examples/demo/dist/main.js'], { cwd: root });
    expect(stdout).toMatch(/^1\. Speech: streaming recognition/m);
    // the shipped speech model is weak: structure, and the one sample it gets right
    expect(stdout).toMatch(/flite-kal\.wav: "[^"]*naked[^"]*"/);
    const right = /: (\d) of 6 right$/m.exec(stdout);
    expect(Number(right?.[1])).toBeGreaterThanOrEqual(4);
    for (const m of stdout.matchAll(/^ {3}(scene-\d+\.png): digits found ([\d ]*) {3}\(true: ([\d ]*)\)$/gm))
      expect(m[2]).toBe(m[3]);
    expect([...stdout.matchAll(/digits found/g)]).toHaveLength(3);
    const mae = /mean absolute error (\d+\.\d+) degrees C/.exec(stdout);
    expect(Number(mae?.[1])).toBeLessThan(3);
    expect(stdout).toMatch(/^Done in \d+\.\d s on the CPU/m);
  });

  it('examples/fan-out-metrics fans one live stream out to two models and prints per-stage metrics', async () => {
    const { stdout } = await run(process.execPath, ['examples/fan-out-metrics/dist/main.js'], { cwd: root });
    expect(stdout).toMatch(/^600 readings \(one every 2 ms\) fanned out to two models/);
    const counter = (name: string, stage: string) =>
      Number(new RegExp(`^rwkv_streams_stage_${name}\\{stage="${stage}"\\} (\\S+)$`, 'm').exec(stdout)?.[1]);
    for (const stage of ['rolling-forecast-192h', 'anomaly-scores-96h']) {
      const inn = counter('items_in_total', stage);
      const out = counter('items_out_total', stage);
      const dropped = counter('items_dropped_total', stage);
      expect(inn).toBe(600);
      expect(out).toBeGreaterThan(200);
      // every reading is answered or passed over once the stream has ended
      expect(out + dropped + counter('in_flight', stage)).toBe(inn);
      expect(counter('latency_seconds_count', stage)).toBe(out);
    }
    // the merged stream holds both branches' results
    const merged = /merged into one stream of (\d+)/.exec(stdout);
    expect(Number(merged?.[1])).toBe(
      counter('items_out_total', 'rolling-forecast-192h') + counter('items_out_total', 'anomaly-scores-96h'),
    );
  });

  const speechModel = join(root, 'models/rwkv-speech-en-synth/model.safetensors');
  it.skipIf(!existsSync(speechModel))(
    `examples/transcribe-live transcribes its sample live: partials as they change, then a final with times${existsSync(speechModel) ? '' : ' (skipped: models/rwkv-speech-en-synth is absent)'}`,
    async () => {
      const { stdout } = await run(process.execPath, ['examples/transcribe-live/dist/main.js'], {
        cwd: root,
      });
      expect(stdout).toMatch(
        /^speech model: RWKV-7 encoder \d+ x \d+, transducer-greedy; 1\.81 s of audio from .*flite-kal\.wav, live in 100 ms chunks/,
      );
      // The shipped model's accuracy is weak (about 20-30% WER on held-out voices): structure, not words.
      const partials = stdout.split('\n').filter((l) => l.startsWith('  partial '));
      expect(partials.length).toBeGreaterThan(0);
      const finals = [...stdout.matchAll(/^final \[(\d+\.\d+) - (\d+\.\d+) s\] (.+)$/gm)];
      expect(finals.length).toBeGreaterThan(0);
      for (const [, start, end, text] of finals) {
        expect(Number(start)).toBeLessThan(Number(end));
        expect(Number(end)).toBeLessThanOrEqual(1.85);
        expect(text!.trim().length).toBeGreaterThan(0);
      }
      expect(stdout).toMatch(
        /utterance\(s\); 19 chunks of 100 ms played in [\d.]+ s \(audio at 1x real time\)/,
      );
    },
  );

  it("the README's usage snippet", async () => {
    const model = await loadRwkvModel(`${root}models/demo-lm/model.safetensors`);
    const lm = new ByteLanguageModel(model);
    const { bytes } = await lm.generate('The kernel ', { maxTokens: 20, temperature: 0.8, topP: 0.9 });
    expect(bytes.length).toBe(20);
    const state = model.createState(2);
    const res = await model.forward(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      state,
      { mode: 'sequence' },
    );
    const [s0, s1] = res.state.unstack();
    expect(s0!.batch).toBe(1);
    expect(s1!.serialize().length).toBeGreaterThan(0);
    await model.dispose();
  });
});
