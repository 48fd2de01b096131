import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../graph/ir.js';
import { buildRwkvGraph } from '../../rwkv/model-graph.js';
import { randomRwkvWeights } from '../../rwkv/random-weights.js';
import { lowerInWorker, shareWeights } from './lower-in-worker.js';
import { type LowerRequest, lowerHere } from './lower-request.js';

const { config, tensors } = randomRwkvWeights({ version: 7, nLayer: 2, nEmbd: 64, nVocab: 97 }, 3);
const request: LowerRequest = {
  kind: 'step-first',
  whenTimeIs1: buildRwkvGraph(config, tensors, { mode: 'recurrent' }),
  otherwise: buildRwkvGraph(config, tensors, { mode: 'sequence' }),
  timeInput: 'tokens',
  options: { cpuFusions: true, quantization: { bits: 4, blockSize: 32 } },
};

describe('lowerInWorker', () => {
  it('hands weights already in shared memory over as they are, and copies others into it once each', () => {
    type StepFirst = Exclude<LowerRequest, { kind: 'single' }>;
    const data = (r: LowerRequest, graph: 'whenTimeIs1' | 'otherwise', name: string) =>
      (r as StepFirst)[graph].initializers.get(name)!.tensor.data;
    const stepFirst = request as StepFirst;
    // randomRwkvWeights makes its tensors in shared memory, as the weight loaders do
    const name = 'emb.weight';
    expect(data(request, 'whenTimeIs1', name).buffer instanceof SharedArrayBuffer).toBe(true);
    expect(data(shareWeights(request), 'whenTimeIs1', name)).toBe(data(request, 'whenTimeIs1', name));
    // a weight in ordinary memory (made by a caller): copied into shared memory, values kept,
    // one copy for both graphs, the caller's array untouched
    const own = data(request, 'whenTimeIs1', name).slice();
    expect(own.buffer instanceof SharedArrayBuffer).toBe(false);
    const withOwn = (g: Graph): Graph => {
      const initializers = new Map(g.initializers);
      const init = initializers.get(name)!;
      initializers.set(name, { ...init, tensor: { ...init.tensor, data: own } });
      return { ...g, initializers };
    };
    const out = shareWeights({
      ...stepFirst,
      whenTimeIs1: withOwn(stepFirst.whenTimeIs1),
      otherwise: withOwn(stepFirst.otherwise),
    });
    const copy = data(out, 'whenTimeIs1', name);
    expect(copy).not.toBe(own);
    expect(copy.buffer instanceof SharedArrayBuffer).toBe(true);
    expect(Array.from(copy)).toEqual(Array.from(own));
    expect(data(out, 'otherwise', name)).toBe(copy);
  });

  it('lowers in this thread from the TypeScript sources (no worker script beside them): the same model and weights file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lower-in-worker-'));
    try {
      let written = -1;
      const bytes = await lowerInWorker(request, {
        file: join(dir, 'a.bin'),
        location: 'a.bin',
        onWritten: (n) => {
          written = n;
        },
      });
      const here = lowerHere(request, { file: join(dir, 'b.bin'), location: 'a.bin' });
      expect(Buffer.from(bytes).equals(Buffer.from(here.bytes))).toBe(true);
      expect(written).toBe(here.written);
      expect(written).toBeGreaterThan(0);
      expect(readFileSync(join(dir, 'a.bin')).equals(readFileSync(join(dir, 'b.bin')))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The worker itself runs from the built package (CI builds before testing): a child node
  // process lowers through it and in its own thread, and sends a bad option through it.
  const dist = fileURLToPath(new URL('../../../dist/', import.meta.url));
  it.skipIf(!existsSync(join(dist, 'backends/onnx/lower-worker.js')))(
    'in the built package lowers in a worker thread: the same bytes and weights file as in-thread, typed errors back',
    () => {
      const script = `
        import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
        import { tmpdir } from 'node:os';
        import { join } from 'node:path';
        import { isMainThread } from 'node:worker_threads';
        const core = await import(${JSON.stringify(join(dist, 'index.js'))});
        const errors = await import(${JSON.stringify(join(dist, 'errors.js'))});
        const { lowerInWorker } = await import(${JSON.stringify(join(dist, 'backends/onnx/lower-in-worker.js'))});
        const { lowerHere } = await import(${JSON.stringify(join(dist, 'backends/onnx/lower-request.js'))});
        const { config, tensors } = core.randomRwkvWeights({ version: 7, nLayer: 2, nEmbd: 64, nVocab: 97 }, 3);
        const request = { kind: 'step-first', whenTimeIs1: core.buildRwkvGraph(config, tensors, { mode: 'recurrent' }),
          otherwise: core.buildRwkvGraph(config, tensors, { mode: 'sequence' }), timeInput: 'tokens',
          options: { cpuFusions: true, quantization: { bits: 4, blockSize: 32 } } };
        const dir = mkdtempSync(join(tmpdir(), 'lower-in-worker-'));
        let written = -1;
        const t0 = Date.now();
        const bytes = await lowerInWorker(request, { file: join(dir, 'a.bin'), location: 'a.bin', onWritten: (n) => { written = n; } });
        const here = lowerHere(request, { file: join(dir, 'b.bin'), location: 'a.bin' });
        const out = { sameBytes: Buffer.from(bytes).equals(Buffer.from(here.bytes)), written, hereWritten: here.written,
          sameFile: readFileSync(join(dir, 'a.bin')).equals(readFileSync(join(dir, 'b.bin'))), tensorsIntact: tensors.get('emb.weight').data.length };
        try {
          await lowerInWorker({ ...request, options: { quantization: { bits: 4, blockSize: 24 } } }, { file: join(dir, 'c.bin'), location: 'c.bin' });
          out.error = 'none';
        } catch (e) {
          out.error = { typed: e instanceof errors.BadInputError, rwkv: e instanceof errors.RwkvError, name: e.name, code: e.code, field: e.field, message: e.message };
        }
        rmSync(dir, { recursive: true, force: true });
        console.log(JSON.stringify(out));
      `;
      const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      // (no warning either: the worker ran, whatever the parent's Node options)
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.sameBytes).toBe(true);
      expect(out.sameFile).toBe(true);
      expect(out.written).toBe(out.hereWritten);
      expect(out.written).toBeGreaterThan(0);
      // the caller's weights are copied to the worker, not transferred away
      expect(out.tensorsIntact).toBe(97 * 64);
      expect(out.error).toEqual({
        typed: true,
        rwkv: true,
        name: 'BadInputError',
        code: 'BAD_INPUT',
        field: 'blockSize',
        message: expect.stringMatching(/block size must be a power of two >= 16, got 24/),
      });
    },
  );
});
