import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom, writeSafetensorsFile } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { loadRwkvTsWeights } from './load-rwkv-ts.js';
import { RwkvTsModel } from './rwkv-ts-model.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const pth = join(root, 'models/rwkv-ts-etth1-96/model.pth');
const options = { nHead: 2, seqLen: 336, stride: 8 };

describe('RWKV-TS weights', () => {
  it('the official state_dict names load from safetensors as from .pth, with the same forecasts', async () => {
    const fromPth = loadRwkvTsWeights(pth, options);
    const file = join(mkdtempSync(join(tmpdir(), 'rwkv-ts-')), 'model.safetensors');
    writeSafetensorsFile(file, fromPth.tensors);
    const fromSt = loadRwkvTsWeights(file, options);
    expect(fromSt.config).toEqual(fromPth.config);
    const rng = new SeededRandom(3);
    const history = Float32Array.from({ length: 336 * 7 }, () => rng.normal());
    const a = new RwkvTsModel(fromPth.config, fromPth.tensors);
    const b = new RwkvTsModel(fromSt.config, fromSt.tensors);
    const fa = await a.forecast(history, 1, 7);
    const fb = await b.forecast(history, 1, 7);
    expect(Array.from(fb)).toEqual(Array.from(fa));
    await a.dispose();
    await b.dispose();
  });
});
