/**
 * Maps a set of weights with official BlinkDL/RWKV-LM state_dict names onto an RWKV
 * model description: detects the architecture version, derives the sizes and checks that
 * every tensor the model needs is present with the official shape.
 *
 * Official names and shapes (C = n_embd, V = vocab, F = dim_ffn, H heads of size N,
 * D_* LoRA sizes; dim_att = C), from BlinkDL/RWKV-LM `RWKV-v4neo/src/model.py`
 * (v4 `RWKV_TimeMix`/`RWKV_ChannelMix`, v5.2 `RWKV_TimeMix_RWKV5`), `RWKV-v5/src/model.py`
 * and `RWKV-v5/rwkv_v6_demo.py` (v6 `RWKV_Tmix_x060`/`RWKV_CMix_x060`), and
 * `RWKV-v7/rwkv_v7_demo.py` / `RWKV-v7/train_temp/src/model.py` (v7 `RWKV_Tmix_x070`/`RWKV_CMix_x070`):
 *
 * every version: `emb.weight` [V, C], `blocks.0.ln0.{weight,bias}` [C], per layer
 * `ln1.{weight,bias}`, `ln2.{weight,bias}` [C], `ln_out.{weight,bias}` [C], `head.weight` [V, C];
 * `att.{receptance,key,value,output}.weight` [C, C]; `ffn.key.weight` [F, C], `ffn.value.weight` [C, F].
 *
 * - v4: `att.time_decay`, `att.time_first` [C]; `att.time_mix_{k,v,r}` [1, 1, C];
 *   `ffn.time_mix_{k,r}` [1, 1, C]; `ffn.receptance.weight` [C, C].
 * - v5.2: `att.time_mix_{k,v,r,g}` [1, 1, C]; `att.time_decay`, `att.time_faaaa` [H, N];
 *   `att.gate.weight` [C, C]; `att.ln_x.{weight,bias}` [C]; ffn as v4.
 * - v6: `att.time_maa_{x,w,k,v,r,g}` [1, 1, C]; `att.time_maa_w1` [C, 5*D_MIX]; `att.time_maa_w2`
 *   [5, D_MIX, C]; `att.time_decay` [1, 1, C]; `att.time_decay_w1` [C, D_DECAY]; `att.time_decay_w2`
 *   [D_DECAY, C]; `att.time_faaaa` [H, N]; `att.gate.weight` [C, C]; `att.ln_x.{weight,bias}` [C];
 *   `ffn.time_maa_{k,r}` [1, 1, C]; `ffn.receptance.weight` [C, C].
 * - v7: `att.x_{r,w,k,v,a,g}` [1, 1, C]; `att.{w0,a0,v0}` [1, 1, C]; `att.{w,a,v,g}1` [C, D_*];
 *   `att.{w,a,v,g}2` [D_*, C]; `att.k_k`, `att.k_a` [1, 1, C]; `att.r_k` [H, N];
 *   `att.ln_x.{weight,bias}` [C]; `ffn.x_k` [1, 1, C]; no `ffn.receptance`. Layer 0 does not use
 *   `att.v0/v1/v2` (value residual starts at layer 1): official checkpoints carry them anyway,
 *   rwkv.cpp files do not, so they are optional in layer 0.
 *
 * RWKV-5.0/5.1 (per-head `time_decay`/`time_first` of shape [H], no `gate`) are refused:
 * their time-mix differs from 5.2 (no gate, no per-channel decay) and the core implements
 * only 5.2.
 */
import { MissingTensorError, ShapeMismatchError, UnknownVersionError } from '../errors.js';
import type { RwkvConfig, RwkvVersion } from '../rwkv/config.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { WeightFile } from './weight-file.js';

/** What {@link describeRwkvModel} returns. */
export interface RwkvModelDescription {
  /** Sizes and version. */
  readonly config: RwkvConfig;
  /** The model's tensors by official name (required ones, plus optional ones present). */
  readonly tensors: ReadonlyMap<string, HostTensor>;
  /** LoRA sizes of v6 (`mix`, `decay`) and v7 (`w`, `a`, `v`, `g`); empty for v4/v5. */
  readonly loraDims: Readonly<Record<string, number>>;
  /** Names in the file that the model does not use (left out of `tensors`). */
  readonly unused: readonly string[];
  /** Prefix removed from every name (e.g. `model.`), or `''`. */
  readonly strippedPrefix: string;
}

/** A tensor the model needs (or may use), with its official shape. */
export interface TensorSpec {
  /** Official state_dict name. */
  readonly name: string;
  /** Official shape, outermost first. */
  readonly shape: readonly number[];
  /** True when the tensor may be absent. */
  readonly optional?: boolean;
}

/** Sizes that determine {@link expectedTensors}. */
export interface RwkvShapeParams extends RwkvConfig {
  /** LoRA sizes, as in {@link RwkvModelDescription.loraDims}. */
  readonly loraDims: Readonly<Record<string, number>>;
}

/** Every tensor of a model with the given sizes, in official order, with official shapes. */
export function expectedTensors(p: RwkvShapeParams): TensorSpec[] {
  const C = p.nEmbd;
  const V = p.nVocab;
  const F = p.dimFfn;
  const H = p.nHead;
  const N = p.headSize;
  const vec = [C];
  const mix = [1, 1, C];
  const sq = [C, C];
  const lora = (k: string): number => p.loraDims[k] ?? 0;
  const specs: TensorSpec[] = [{ name: 'emb.weight', shape: [V, C] }];
  for (let l = 0; l < p.nLayer; l++) {
    const b = `blocks.${l}.`;
    const add = (name: string, shape: readonly number[], optional = false): void => {
      specs.push(optional ? { name: b + name, shape, optional } : { name: b + name, shape });
    };
    if (l === 0) {
      add('ln0.weight', vec);
      add('ln0.bias', vec);
    }
    for (const n of ['ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias']) add(n, vec);
    switch (p.version) {
      case 4:
        add('att.time_decay', vec);
        add('att.time_first', vec);
        for (const x of 'kvr') add(`att.time_mix_${x}`, mix);
        break;
      case 5:
        for (const x of 'kvrg') add(`att.time_mix_${x}`, mix);
        add('att.time_decay', [H, N]);
        add('att.time_faaaa', [H, N]);
        break;
      case 6:
        for (const x of 'xwkvrg') add(`att.time_maa_${x}`, mix);
        add('att.time_maa_w1', [C, 5 * lora('mix')]);
        add('att.time_maa_w2', [5, lora('mix'), C]);
        add('att.time_decay', mix);
        add('att.time_decay_w1', [C, lora('decay')]);
        add('att.time_decay_w2', [lora('decay'), C]);
        add('att.time_faaaa', [H, N]);
        break;
      case 7:
        for (const x of 'rwkvag') add(`att.x_${x}`, mix);
        for (const x of 'wavg') {
          const optional = x === 'v' && l === 0;
          if (x !== 'g') add(`att.${x}0`, mix, optional);
          add(`att.${x}1`, [C, lora(x)], optional);
          add(`att.${x}2`, [lora(x), C], optional);
        }
        add('att.k_k', mix);
        add('att.k_a', mix);
        add('att.r_k', [H, N]);
        break;
    }
    for (const n of ['receptance', 'key', 'value', 'output']) add(`att.${n}.weight`, sq);
    if (p.version === 5 || p.version === 6) add('att.gate.weight', sq);
    if (p.version >= 5) {
      add('att.ln_x.weight', vec);
      add('att.ln_x.bias', vec);
    }
    if (p.version === 6) {
      add('ffn.time_maa_k', mix);
      add('ffn.time_maa_r', mix);
    } else if (p.version === 7) {
      add('ffn.x_k', mix);
    } else {
      add('ffn.time_mix_k', mix);
      add('ffn.time_mix_r', mix);
    }
    add('ffn.key.weight', [F, C]);
    if (p.version !== 7) add('ffn.receptance.weight', sq);
    add('ffn.value.weight', [C, F]);
  }
  specs.push(
    { name: 'ln_out.weight', shape: vec },
    { name: 'ln_out.bias', shape: vec },
    { name: 'head.weight', shape: [V, C] },
  );
  return specs;
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Finds a prefix such as `model.` or `state_dict.` in front of every official name. */
function findPrefix(names: Iterable<string>): string {
  const all = [...names];
  if (all.includes('emb.weight')) return '';
  const hit = all.find((n) => n.endsWith('.emb.weight'));
  if (hit === undefined) return '';
  return hit.slice(0, hit.length - 'emb.weight'.length);
}

/**
 * Detects the RWKV version of official-named weights, derives the config and checks every
 * tensor. Accepts weights whose names all carry one prefix (e.g. `model.emb.weight`, as
 * from a flattened `{'model': state_dict}`), which is stripped.
 *
 * Throws UnknownVersionError (names match no supported version, or RWKV-5.0/5.1),
 * MissingTensorError (a required tensor is absent; names it) and ShapeMismatchError
 * (names the tensor, the expected and the found shape).
 */
export function describeRwkvModel(file: WeightFile): RwkvModelDescription {
  const src = file.source;
  const prefix = findPrefix(file.tensors.keys());
  const t = new Map<string, HostTensor>();
  for (const [name, tensor] of file.tensors) {
    if (name.startsWith(prefix)) t.set(name.slice(prefix.length), tensor);
  }
  const has = (n: string): boolean => t.has(n);
  const need = (n: string): HostTensor => {
    const x = t.get(n);
    if (x === undefined)
      throw new MissingTensorError('required tensor is absent', { file: src, field: prefix + n });
    return x;
  };
  const dims = (n: string, rank: number): number[] => {
    const x = need(n);
    if (x.shape.length !== rank) {
      throw new ShapeMismatchError(`expected ${rank} dimensions, found ${fmt(x.shape)}`, {
        file: src,
        field: prefix + n,
      });
    }
    return [...x.shape];
  };

  // Version from layer-0 names.
  let version: RwkvVersion;
  const a = 'blocks.0.att.';
  if (has(`${a}w0`) || has(`${a}r_k`)) version = 7;
  else if (has(`${a}time_maa_w1`) || has(`${a}time_maa_x`)) version = 6;
  else if (has(`${a}time_faaaa`) && has(`${a}gate.weight`) && !has(`${a}time_maa_x`)) version = 5;
  else if (has(`${a}ln_x.weight`) || has(`${a}time_faaaa`)) {
    throw new UnknownVersionError(
      'RWKV-5.0/5.1 weights (ln_x or time_faaaa without att.gate, per-head time_decay/time_first): only RWKV-5.2 is supported, whose time-mix adds the gate and per-channel decay',
      { file: src, field: prefix + (has(`${a}gate.weight`) ? `${a}time_faaaa` : `${a}gate.weight`) },
    );
  } else if (has(`${a}time_first`)) {
    const tf = t.get(`${a}time_first`)!;
    const emb = t.get('emb.weight');
    if (
      emb !== undefined &&
      emb.shape.length === 2 &&
      tf.shape.length === 1 &&
      tf.shape[0] !== emb.shape[1]
    ) {
      throw new UnknownVersionError(
        `att.time_first has ${tf.shape[0]} entries, not n_embd = ${emb.shape[1]}: per-head time_first is RWKV-5.0/5.1, which is not supported (only 5.2)`,
        { file: src, field: prefix + `${a}time_first` },
      );
    }
    version = 4;
  } else {
    throw new UnknownVersionError(
      'tensor names match no RWKV version: looked for blocks.0.att.time_first (v4), time_faaaa + gate.weight (v5.2), time_maa_w1 (v6), w0 / r_k (v7)',
      { file: src, field: prefix + `${a}*` },
    );
  }

  const [nVocab, nEmbd] = dims('emb.weight', 2) as [number, number];
  let nLayer = 0;
  while (has(`blocks.${nLayer}.ln1.weight`)) nLayer++;
  if (nLayer === 0)
    throw new MissingTensorError('required tensor is absent', {
      file: src,
      field: `${prefix}blocks.0.ln1.weight`,
    });
  for (const name of t.keys()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m !== null && Number(m[1]) >= nLayer) {
      throw new MissingTensorError(`'${prefix}${name}' belongs to a block after a missing one`, {
        file: src,
        field: `${prefix}blocks.${nLayer}.ln1.weight`,
      });
    }
  }
  const [dimFfn] = dims('blocks.0.ffn.key.weight', 2) as [number, number];
  let nHead: number;
  let headSize: number;
  if (version === 4) {
    nHead = nEmbd;
    headSize = 1;
  } else {
    const headTensor = version === 7 ? `${a}r_k` : `${a}time_faaaa`;
    [nHead, headSize] = dims(headTensor, 2) as [number, number];
    if (nHead * headSize !== nEmbd) {
      throw new ShapeMismatchError(
        `[H, N] = ${fmt([nHead, headSize])} but H * N must equal n_embd = ${nEmbd}`,
        {
          file: src,
          field: prefix + headTensor,
        },
      );
    }
  }
  const loraDims: Record<string, number> = {};
  if (version === 6) {
    const w1 = dims(`${a}time_maa_w1`, 2);
    if (w1[1]! % 5 !== 0) {
      throw new ShapeMismatchError(`second dimension of ${fmt(w1)} must be 5 * D_MIX_LORA`, {
        file: src,
        field: `${prefix}${a}time_maa_w1`,
      });
    }
    loraDims['mix'] = w1[1]! / 5;
    loraDims['decay'] = dims(`${a}time_decay_w1`, 2)[1]!;
  } else if (version === 7) {
    for (const x of ['w', 'a', 'g']) loraDims[x] = dims(`${a}${x}1`, 2)[1]!;
    const vLayer = has(`${a}v1`) || nLayer === 1 ? 0 : 1;
    loraDims['v'] = dims(`blocks.${vLayer}.att.v1`, 2)[1]!;
  }
  const config: RwkvConfig = { version, nLayer, nEmbd, nVocab, dimFfn, headSize, nHead };

  // Cross-check with the rwkv.cpp header, when there is one.
  const header: [string, number][] = [
    ['rwkv_cpp.n_layer', nLayer],
    ['rwkv_cpp.n_embed', nEmbd],
    ['rwkv_cpp.n_vocab', nVocab],
  ];
  for (const [key, value] of header) {
    const stated = file.metadata[key];
    if (typeof stated === 'number' && stated !== value) {
      throw new ShapeMismatchError(`header says ${stated}, the tensors give ${value}`, {
        file: src,
        field: key,
      });
    }
  }

  const tensors = new Map<string, HostTensor>();
  for (const spec of expectedTensors({ ...config, loraDims })) {
    const x = t.get(spec.name);
    if (x === undefined) {
      if (spec.optional) continue;
      throw new MissingTensorError(`required tensor of RWKV-${version === 5 ? '5.2' : version} is absent`, {
        file: src,
        field: prefix + spec.name,
      });
    }
    if (x.shape.length !== spec.shape.length || x.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ShapeMismatchError(`expected shape ${fmt(spec.shape)}, found ${fmt(x.shape)}`, {
        file: src,
        field: prefix + spec.name,
      });
    }
    tensors.set(spec.name, x);
  }
  const unused = [...file.tensors.keys()].filter(
    (n) => !n.startsWith(prefix) || !tensors.has(n.slice(prefix.length)),
  );
  return { config, tensors, loraDims, unused, strippedPrefix: prefix };
}
