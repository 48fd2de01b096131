import {
  BadInputError,
  type HostTensor,
  loadWeights,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import type { RwkvTsConfig } from './config.js';

/** What the weights cannot say about an RWKV-TS model. */
export interface RwkvTsLoadOptions {
  /** Heads (n_heads; 2 in the official ETTh1 scripts). */
  readonly nHead: number;
  /** Lookback (seq_len, 336 in the official scripts) and stride (8). */
  readonly seqLen: number;
  readonly stride: number;
}

/** An RWKV-TS config and its weights under the official names. */
export interface RwkvTsWeights {
  readonly config: RwkvTsConfig;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

/**
 * An official RWKV4TS state_dict (`rwkv.N.*`, `in_layer.*`, `out_layer.*`; a `model.` or
 * `state_dict.` prefix is dropped) -> config + tensors, every shape checked.
 */
export function rwkvTsFromWeights(file: WeightFile, options: RwkvTsLoadOptions): RwkvTsWeights {
  const tensors = new Map<string, HostTensor>();
  for (const [raw, t] of file.tensors) tensors.set(raw.replace(/^(state_dict\.|model\.|module\.)/, ''), t);
  const need = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`RWKV-TS weights have no '${name}'`, { file: file.source, field: name });
    return t;
  };
  const inLayer = need('in_layer.weight');
  const [dModel, patchSize] = inLayer.shape as [number, number];
  const out = need('out_layer.weight');
  const [predLen, flat] = out.shape as [number, number];
  const patchNum = flat / dModel;
  const { seqLen, stride, nHead } = options;
  if (!Number.isInteger(patchNum) || patchNum !== Math.floor((seqLen - patchSize) / stride) + 2)
    throw new ShapeMismatchError(
      `out_layer.weight is [${out.shape}]: ${flat / dModel} patches, but seq_len ${seqLen}, patch ${patchSize} and stride ${stride} give ${Math.floor((seqLen - patchSize) / stride) + 2}`,
      { file: file.source, field: 'out_layer.weight' },
    );
  if (dModel % nHead !== 0)
    throw new BadInputError(`d_model ${dModel} is not a multiple of ${nHead} heads`, { field: 'nHead' });
  let nLayer = 0;
  while (tensors.has(`rwkv.${nLayer}.ln_1.weight`)) nLayer++;
  const config: RwkvTsConfig = { seqLen, predLen, patchSize, stride, patchNum, dModel, nHead, nLayer };
  const D = dModel;
  const want = new Map<string, number[]>([
    ['in_layer.bias', [D]],
    ['out_layer.bias', [predLen]],
  ]);
  for (let l = 0; l < nLayer; l++) {
    const p = `rwkv.${l}`;
    for (const n of ['ln_1', 'ln_2', 'tmix.ln_x'])
      for (const s of ['weight', 'bias']) want.set(`${p}.${n}.${s}`, [D]);
    for (const n of ['k', 'v', 'r', 'g']) want.set(`${p}.tmix.time_maa_${n}`, [1, 1, D]);
    for (const n of ['k', 'r']) want.set(`${p}.cmix.time_maa_${n}`, [1, 1, D]);
    for (const n of ['time_decay', 'time_faaaa']) want.set(`${p}.tmix.${n}`, [nHead, 1]);
    for (const n of ['receptance', 'key', 'value', 'gate', 'output']) {
      want.set(`${p}.tmix.${n}.weight`, [D, D]);
      want.set(`${p}.tmix.${n}.bias`, [D]);
    }
    want.set(`${p}.cmix.key.weight`, [3 * D, D]);
    want.set(`${p}.cmix.key.bias`, [3 * D]);
    want.set(`${p}.cmix.value.weight`, [D, 3 * D]);
    want.set(`${p}.cmix.value.bias`, [D]);
    want.set(`${p}.cmix.receptance.weight`, [D, D]);
    want.set(`${p}.cmix.receptance.bias`, [D]);
  }
  for (const [name, shape] of want) {
    const t = need(name);
    if (t.shape.join(',') !== shape.join(','))
      throw new ShapeMismatchError(`'${name}' is [${t.shape}], expected [${shape}]`, {
        file: file.source,
        field: name,
      });
  }
  return { config, tensors };
}

/** `rwkvTsFromWeights` of a file (.pth through the safe reader, or safetensors). */
export function loadRwkvTsWeights(path: string, options: RwkvTsLoadOptions): RwkvTsWeights {
  return rwkvTsFromWeights(loadWeights(path), options);
}
