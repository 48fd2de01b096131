import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRwkvGraph } from '../../rwkv/model-graph.js';
import { randomRwkvWeights } from '../../rwkv/random-weights.js';
import type { TensorValue } from '../backend.js';
import { externalizeInitializers } from './external-weights.js';
import { lowerToOnnx, lowerToOnnxByTime } from './lower.js';
import { createLoweredSession, removeStaleFolders, STALE_FOLDER_MS } from './model-file.js';
import { ONNX_DATA_EXTERNAL } from './onnx-schema.js';
import { createOnnxSession } from './onnx-session.js';

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: 2, nEmbd: 64, nVocab: 50, headSize: 32 },
  5,
);
const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });

/** Feeds for T tokens of one stream from a zero state. */
function feeds(T: number): Record<string, TensorValue> {
  const f: Record<string, TensorValue> = {
    tokens: { dtype: 'int32', dims: [1, T], data: Int32Array.from({ length: T }, (_, i) => (i * 7) % 50) },
    logits_from: { dtype: 'int32', dims: [1], data: Int32Array.of(0) },
  };
  for (const v of step.inputs) {
    if (v.name === 'tokens') continue;
    const dims = [1, ...(v.shape.slice(1) as number[])];
    f[v.name] = { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
  }
  return f;
}

describe('models handed to onnxruntime as a file with external weights', () => {
  let temp: string;
  const saved = { TMPDIR: process.env['TMPDIR'], flag: process.env['RWKV_STREAMS_ONNX_EXTERNAL_WEIGHTS'] };
  beforeEach(() => {
    temp = mkdtempSync(join(tmpdir(), 'rwkv-streams-test-'));
    process.env['TMPDIR'] = temp; // os.tmpdir() reads it on every call
  });
  afterEach(() => {
    for (const [k, v] of [
      ['TMPDIR', saved.TMPDIR],
      ['RWKV_STREAMS_ONNX_EXTERNAL_WEIGHTS', saved.flag],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(temp, { recursive: true, force: true });
  });

  const lower = (external?: Parameters<typeof lowerToOnnxByTime>[3]['externalData']) =>
    lowerToOnnxByTime(step, seq, 'tokens', {
      cpuFusions: true,
      ...(external ? { externalData: external } : {}),
    });

  it('computes what the model from memory computes, counts the weights in modelBytes, and leaves no files', async () => {
    const memory = await createOnnxSession(lower(), { device: 'cpu' }, 'memory');
    let weightsFile = '';
    const file = await createLoweredSession(
      (external) => {
        const bytes = lower(external);
        weightsFile = external?.file ?? '';
        expect(existsSync(weightsFile)).toBe(true); // written under the temp folder
        return bytes;
      },
      1,
      { device: 'cpu' },
      'file',
      0,
    );
    expect(weightsFile.startsWith(join(temp, 'rwkv-streams-onnx-'))).toBe(true);
    expect(existsSync(weightsFile)).toBe(false);
    // model and weights removed once the session exists (other programs may leave files there)
    expect(readdirSync(temp).filter((f) => f.startsWith('rwkv-streams-onnx-'))).toEqual([]);
    for (const T of [1, 5]) {
      const [a, b] = [await memory.run(feeds(T)), await file.run(feeds(T))];
      expect(b['logits']!.data).toEqual(a['logits']!.data);
    }
    // the weights are outside the serialized model now, and counted
    expect(file.modelBytes).toBeGreaterThan(memory.modelBytes! * 0.9);
    await memory.dispose();
    await file.dispose();
  });

  it('falls back to the model in memory when the temp folder cannot be written, and can be turned off', async () => {
    process.env['TMPDIR'] = join(temp, 'missing', 'folder');
    const fallback = await createLoweredSession(lower, 1, { device: 'cpu' }, 'fallback', 0);
    const memory = await createOnnxSession(lower(), { device: 'cpu' }, 'memory');
    expect((await fallback.run(feeds(3)))['logits']!.data).toEqual(
      (await memory.run(feeds(3)))['logits']!.data,
    );
    process.env['TMPDIR'] = temp;
    process.env['RWKV_STREAMS_ONNX_EXTERNAL_WEIGHTS'] = '0';
    let wrote = false;
    const off = await createLoweredSession(
      (external) => {
        wrote ||= external !== undefined;
        return lower(external);
      },
      1,
      { device: 'cpu' },
      'off',
      0,
    );
    expect(wrote).toBe(false);
    for (const s of [fallback, memory, off]) await s.dispose();
  });

  it('removes folders of the route left by a process that died (an hour old), and nothing else', async () => {
    const old = join(temp, 'rwkv-streams-onnx-dead01');
    const fresh = join(temp, 'rwkv-streams-onnx-live01');
    const other = join(temp, 'someone-elses-folder');
    for (const d of [old, fresh, other]) {
      mkdirSync(d);
      writeFileSync(join(d, 'weights.bin'), 'x');
    }
    const twoHoursAgo = (Date.now() - 2 * STALE_FOLDER_MS) / 1000;
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    utimesSync(other, twoHoursAgo, twoHoursAgo);
    removeStaleFolders(temp);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(other)).toBe(true);
    removeStaleFolders(join(temp, 'no-such-folder')); // nothing to read: nothing happens
    // and the route itself sweeps before it writes
    utimesSync(fresh, twoHoursAgo, twoHoursAgo);
    await (await createLoweredSession(lower, 1, { device: 'cpu' }, 'sweep', 0)).dispose();
    expect(existsSync(fresh)).toBe(false);
  });

  it('keeps small models and other devices in memory', async () => {
    let wrote = false;
    const spy = (external?: Parameters<typeof lower>[0]) => {
      wrote ||= external !== undefined;
      return lower(external);
    };
    await (await createLoweredSession(spy, 1000, { device: 'cpu' }, 'small', 4096)).dispose();
    expect(wrote).toBe(false);
    // WebGPU: lowered in memory whatever the size (the session itself may not exist here)
    await createLoweredSession(spy, 1 << 30, { device: 'webgpu' }, 'webgpu', 0).then(
      (s) => s.dispose(),
      () => undefined,
    );
    expect(wrote).toBe(false);
  });
});

describe('externalizeInitializers', () => {
  it('moves initializers from minBytes up into the file at 4 KiB offsets, byte for byte, and keeps the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwkv-streams-test-'));
    try {
      const big = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
      const big2 = Uint8Array.from({ length: 4096 }, (_, i) => (i * 3) % 256);
      const small = Uint8Array.of(1, 2, 3);
      const init = [
        { name: 'a', dims: [5000], dataType: 2, rawData: big },
        { name: 'b', dims: [3], dataType: 2, rawData: small },
        { name: 'c', dims: [4096], dataType: 2, rawData: big2 },
      ];
      let written = 0;
      const out = externalizeInitializers(init, {
        file: join(dir, 'w.bin'),
        location: 'w.bin',
        minBytes: 4096,
        onWritten: (n) => {
          written = n;
        },
      });
      expect(init[0]!.rawData).toBe(big); // the input is not changed
      expect(out[1]).toBe(init[1]);
      expect(written).toBe(5000 + 4096);
      const file = readFileSync(join(dir, 'w.bin'));
      const where = (t: (typeof out)[number]) =>
        Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      expect(out[0]!.dataLocation).toBe(ONNX_DATA_EXTERNAL);
      expect(out[0]!.rawData).toBeUndefined();
      expect(where(out[0]!)).toEqual({ location: 'w.bin', offset: '0', length: '5000' });
      expect(where(out[2]!)).toEqual({ location: 'w.bin', offset: '8192', length: '4096' });
      expect(Uint8Array.from(file.subarray(0, 5000))).toEqual(big);
      expect(Uint8Array.from(file.subarray(8192, 8192 + 4096))).toEqual(big2);
      expect(existsSync(join(dir, 'w.bin'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a model lowered with external data runs from its file only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwkv-streams-test-'));
    try {
      const bytes = lowerToOnnx(step, {
        externalData: { file: join(dir, 'weights.bin'), location: 'weights.bin', minBytes: 0 },
      });
      const memory = lowerToOnnx(step);
      expect(bytes.byteLength).toBeLessThan(memory.byteLength / 2);
      // from bytes alone onnxruntime cannot find the weights: a clear failure, not wrong numbers
      await expect(createOnnxSession(bytes, { device: 'cpu' }, 'no file')).rejects.toThrow(
        /could not create/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
