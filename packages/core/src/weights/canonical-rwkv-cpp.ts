/**
 * Undoes what rwkv.cpp's converter (`python/convert_pytorch_to_ggml.py`, RWKV/rwkv.cpp
 * commit 4358e70) did to an official BlinkDL/RWKV-LM state_dict, so a model read from an
 * rwkv.cpp file has the official tensor names, values and shapes that `torch.load` of
 * the official `.pth` gives. rwkv.cpp's loader (`rwkv_model_loading.inc`) uses the
 * stored tensors as they are, so the converter is the only place values change.
 *
 * What the converter does (and what {@link RWKV_CPP_CONVERSIONS} lists):
 * - every tensor whose name contains `.time_` is squeezed (size-1 dims dropped);
 * - v4: `att.time_decay` is stored as `-exp(w)`;
 * - v5.1: `att.time_decay` as `exp(-exp(w)).reshape(-1,1,1)`, `att.time_first` as `exp(u).reshape(-1,1,1)`;
 * - v5.2: `att.time_decay` as `exp(-exp(w)).unsqueeze(-1)`, `att.time_faaaa` unsqueezed to [H, N, 1];
 * - v6: `att.time_maa_w1`, `att.time_decay_w1`, `att.time_decay_w2` transposed, `att.time_maa_w2`
 *   transposed in its last two dims, `att.time_decay` reshaped to [H, N, 1], `att.time_faaaa` to [H, N, 1];
 * - v7: `att.x_r/x_w/x_k/x_v/x_a/x_g` concatenated (in that order) along dim 0 into `att.x_rwkvag`
 *   [6, 1, C]; `att.w1, w2, a1, a2, v1, v2, g1, g2` transposed.
 * FP16 files keep 1-D tensors and every `.time_*`, `k_k`, `k_a`, `r_k`, `x_*`, `w0`, `a0`,
 * `v0` tensor in float32; those are the only ones whose values are recomputed here.
 *
 * Inverses are computed in float64 from the stored float32 values, then rounded to float32.
 */
import { MalformedFileError, ShapeMismatchError, UnknownVersionError } from '../errors.js';
import { type HostTensor, hostTensor, numel } from '../tensor/host-tensor.js';
import { sharedFloat32 } from '../tensor/shared-floats.js';
import type { WeightFile } from './weight-file.js';

/** RWKV architecture of an rwkv.cpp file, detected from its tensor names as rwkv.cpp does. */
export type RwkvCppArch = '4' | '5.1' | '5.2' | '6' | '7';

/** One row of the conversion table: what rwkv.cpp's converter does and how it is undone. */
export interface RwkvCppConversion {
  /** Architectures the row applies to. */
  readonly arch: readonly RwkvCppArch[];
  /** Official tensor name pattern (`L` = layer index). */
  readonly official: string;
  /** Official shape. */
  readonly officialShape: string;
  /** Name and shape in the rwkv.cpp file. */
  readonly stored: string;
  /** The converter's operation (PyTorch notation). */
  readonly converter: string;
  /** The inverse applied by {@link canonicalizeRwkvCpp}. */
  readonly inverse: string;
}

/** The converter's changes to official tensors, per architecture. Tensors not listed are unchanged. */
export const RWKV_CPP_CONVERSIONS: readonly RwkvCppConversion[] = [
  {
    arch: ['4', '5.1', '5.2'],
    official: 'blocks.L.att.time_mix_{k,v,r} (5.2 also _g), blocks.L.ffn.time_mix_{k,r}',
    officialShape: '[1, 1, C]',
    stored: 'same name, [C]',
    converter: 'squeeze()',
    inverse: 'reshape to [1, 1, C]',
  },
  {
    arch: ['4'],
    official: 'blocks.L.att.time_decay',
    officialShape: '[C]',
    stored: 'same name, [C]',
    converter: '-exp(w)',
    inverse: 'w = ln(-s); s = -0 gives w = -104 (any w < -103.9 stores -0)',
  },
  {
    arch: ['5.1'],
    official: 'blocks.L.att.time_decay',
    officialShape: '[H]',
    stored: 'same name, [H, 1, 1]',
    converter: 'exp(-exp(w)).reshape(-1, 1, 1)',
    inverse: 'w = ln(-ln(s)), reshape to [H] (5.1 itself is rejected by describeRwkvModel)',
  },
  {
    arch: ['5.1'],
    official: 'blocks.L.att.time_first',
    officialShape: '[H]',
    stored: 'same name, [H, 1, 1]',
    converter: 'exp(u).reshape(-1, 1, 1)',
    inverse: 'u = ln(s), reshape to [H]',
  },
  {
    arch: ['5.2'],
    official: 'blocks.L.att.time_decay',
    officialShape: '[H, N]',
    stored: 'same name, [H, N, 1]',
    converter: 'exp(-exp(w)).unsqueeze(-1)',
    inverse: 'w = ln(-ln(s)); s = 1 gives w = -18, s = 0 gives w = 4.7 (values storing the same float32)',
  },
  {
    arch: ['5.2', '6'],
    official: 'blocks.L.att.time_faaaa',
    officialShape: '[H, N]',
    stored: 'same name, [H, N, 1]',
    converter: 'squeeze().unsqueeze(-1)',
    inverse: 'reshape to [H, N]',
  },
  {
    arch: ['6'],
    official: 'blocks.L.att.time_maa_{x,w,k,v,r,g}, blocks.L.ffn.time_maa_{k,r}',
    officialShape: '[1, 1, C]',
    stored: 'same name, [C]',
    converter: 'squeeze()',
    inverse: 'reshape to [1, 1, C]',
  },
  {
    arch: ['6'],
    official: 'blocks.L.att.time_maa_w1',
    officialShape: '[C, 5*D]',
    stored: 'same name, [5*D, C]',
    converter: 'transpose(0, 1)',
    inverse: 'transpose(0, 1)',
  },
  {
    arch: ['6'],
    official: 'blocks.L.att.time_maa_w2',
    officialShape: '[5, D, C]',
    stored: 'same name, [5, C, D]',
    converter: 'transpose(1, 2)',
    inverse: 'transpose(1, 2)',
  },
  {
    arch: ['6'],
    official: 'blocks.L.att.time_decay',
    officialShape: '[1, 1, C]',
    stored: 'same name, [H, N, 1]',
    converter: 'squeeze().reshape(H, -1, 1)',
    inverse: 'reshape to [1, 1, C] (values unchanged)',
  },
  {
    arch: ['6'],
    official: 'blocks.L.att.time_decay_w1 / time_decay_w2',
    officialShape: '[C, D] / [D, C]',
    stored: 'same names, [D, C] / [C, D]',
    converter: 'transpose(0, 1)',
    inverse: 'transpose(0, 1)',
  },
  {
    arch: ['7'],
    official: 'blocks.L.att.x_r, x_w, x_k, x_v, x_a, x_g',
    officialShape: '[1, 1, C] each',
    stored: 'blocks.L.att.x_rwkvag, [6, 1, C]',
    converter: 'torch.cat([x_r, x_w, x_k, x_v, x_a, x_g], dim=0)',
    inverse: 'split dim 0 into six [1, 1, C] tensors, in r, w, k, v, a, g order',
  },
  {
    arch: ['7'],
    official: 'blocks.L.att.{w,a,v,g}1 / {w,a,v,g}2',
    officialShape: '[C, D] / [D, C]',
    stored: 'same names, [D, C] / [C, D]',
    converter: 'transpose(0, 1)',
    inverse: 'transpose(0, 1)',
  },
];

/** One tensor changed by {@link canonicalizeRwkvCppDetailed}. */
export interface CanonicalChange {
  /** Official name of the result. */
  readonly official: string;
  /** Name in the rwkv.cpp file. */
  readonly stored: string;
  /** Shape in the rwkv.cpp file. */
  readonly storedShape: readonly number[];
  /** Official shape of the result. */
  readonly officialShape: readonly number[];
  /** What was done, in words (e.g. `w = ln(-s)`, `transpose`, `reshape`). */
  readonly inverse: string;
}

/** Result of {@link canonicalizeRwkvCppDetailed}. */
export interface CanonicalRwkvCpp {
  /** The weights with official names, values and shapes. */
  readonly file: WeightFile;
  /** Architecture detected from the rwkv.cpp names. */
  readonly arch: RwkvCppArch;
  /** Every tensor that was renamed, reshaped, transposed or recomputed. */
  readonly changes: readonly CanonicalChange[];
}

/**
 * Detects the architecture from rwkv.cpp tensor names, with the rules of rwkv.cpp's
 * loader: `blocks.0.att.r_k` -> 7; `blocks.0.att.time_maa_x` -> 6; `blocks.0.att.ln_x.weight`
 * -> 5 (5.2 with `blocks.0.att.gate.weight`, else 5.1); otherwise 4.
 */
export function detectRwkvCppArch(names: ReadonlySet<string> | ReadonlyMap<string, unknown>): RwkvCppArch {
  if (names.has('blocks.0.att.r_k')) return '7';
  if (names.has('blocks.0.att.time_maa_x')) return '6';
  if (names.has('blocks.0.att.ln_x.weight')) return names.has('blocks.0.att.gate.weight') ? '5.2' : '5.1';
  return '4';
}

const LAYER_NAME = /^blocks\.(\d+)\.(att|ffn)\.(.+)$/;

/**
 * Returns the weights of an rwkv.cpp file with official BlinkDL/RWKV-LM names, values
 * and shapes; see {@link canonicalizeRwkvCppDetailed} for the list of changes.
 */
export function canonicalizeRwkvCpp(file: WeightFile): WeightFile {
  return canonicalizeRwkvCppDetailed(file).file;
}

/**
 * Inverts rwkv.cpp's converter (see {@link RWKV_CPP_CONVERSIONS}) and reports every
 * tensor it changed. Tensor order follows the file. Throws ShapeMismatchError when a
 * tensor to be reshaped or split has an unexpected shape and MalformedFileError when a
 * stored value lies outside the converter's range (e.g. a positive v4 `time_decay`).
 * The metadata gains `canonical.arch` and `canonical.changed` (number of changed tensors).
 */
export function canonicalizeRwkvCppDetailed(file: WeightFile): CanonicalRwkvCpp {
  if (file.format !== 'rwkv-cpp') {
    throw new UnknownVersionError(
      `expected weights read from an rwkv.cpp file, got format '${file.format}'`,
      {
        file: file.source,
        field: 'format',
      },
    );
  }
  const arch = detectRwkvCppArch(file.tensors);
  const emb = file.tensors.get('emb.weight');
  const nEmbd =
    emb !== undefined && emb.shape.length === 2
      ? emb.shape[1]!
      : Number(file.metadata['rwkv_cpp.n_embed'] ?? 0);
  const out = new Map<string, HostTensor>();
  const changes: CanonicalChange[] = [];
  const ctx: Ctx = { file: file.source, nEmbd, out, changes };

  for (const [name, t] of file.tensors) {
    const m = LAYER_NAME.exec(name);
    if (m === null) {
      out.set(name, t);
      continue;
    }
    const prefix = `blocks.${m[1]}.${m[2]}.`;
    const part = m[3]!;
    const isAtt = m[2] === 'att';
    if (!convertLayerTensor(ctx, arch, name, prefix, part, isAtt, t)) out.set(name, t);
  }
  return {
    arch,
    changes,
    file: {
      format: file.format,
      source: file.source,
      tensors: out,
      metadata: { ...file.metadata, 'canonical.arch': arch, 'canonical.changed': changes.length },
    },
  };
}

interface Ctx {
  readonly file: string;
  readonly nEmbd: number;
  readonly out: Map<string, HostTensor>;
  readonly changes: CanonicalChange[];
}

/** Converts one `blocks.L.{att,ffn}.*` tensor; returns false when it is kept unchanged. */
function convertLayerTensor(
  ctx: Ctx,
  arch: RwkvCppArch,
  name: string,
  prefix: string,
  part: string,
  isAtt: boolean,
  t: HostTensor,
): boolean {
  const timeMix = arch === '6' ? /^time_maa_[xwkvrg]$/ : /^time_mix_[kvrg]$/;
  if (arch !== '7' && timeMix.test(part)) {
    emit(ctx, name, name, t, [1, 1, numel(t.shape)], t.data, 'reshape to [1, 1, C]');
    return true;
  }
  if (!isAtt) return false;
  switch (arch) {
    case '4':
      if (part === 'time_decay') {
        emit(ctx, name, name, t, [numel(t.shape)], mapValues(ctx, name, t, invertNegExp), 'w = ln(-s)');
        return true;
      }
      return false;
    case '5.1':
      if (part === 'time_decay') {
        emit(
          ctx,
          name,
          name,
          t,
          [numel(t.shape)],
          mapValues(ctx, name, t, invertExpNegExp),
          'w = ln(-ln(s))',
        );
        return true;
      }
      if (part === 'time_first') {
        emit(ctx, name, name, t, [numel(t.shape)], mapValues(ctx, name, t, invertExp), 'u = ln(s)');
        return true;
      }
      if (part === 'time_faaaa') {
        emit(ctx, name, name, t, [numel(t.shape)], t.data, 'reshape to [H]');
        return true;
      }
      return false;
    case '5.2':
      if (part === 'time_decay') {
        const shape = headShape(ctx, name, t);
        emit(
          ctx,
          name,
          name,
          t,
          shape,
          mapValues(ctx, name, t, invertExpNegExp),
          'w = ln(-ln(s)), reshape to [H, N]',
        );
        return true;
      }
      if (part === 'time_faaaa') {
        emit(ctx, name, name, t, headShape(ctx, name, t), t.data, 'reshape to [H, N]');
        return true;
      }
      return false;
    case '6':
      if (part === 'time_faaaa') {
        emit(ctx, name, name, t, headShape(ctx, name, t), t.data, 'reshape to [H, N]');
        return true;
      }
      if (part === 'time_decay') {
        emit(ctx, name, name, t, [1, 1, numel(t.shape)], t.data, 'reshape to [1, 1, C]');
        return true;
      }
      if (part === 'time_maa_w1' || part === 'time_decay_w1' || part === 'time_decay_w2') {
        transpose2d(ctx, name, name, t);
        return true;
      }
      if (part === 'time_maa_w2') {
        if (t.shape.length !== 3) {
          throw new ShapeMismatchError(`expected 3 dimensions [5, C, D], got [${t.shape.join(', ')}]`, {
            file: ctx.file,
            field: name,
          });
        }
        const [a, b, c] = t.shape as [number, number, number];
        const data = sharedFloat32(t.data.length);
        for (let i = 0; i < a; i++) {
          transposeInto(t.data, data, b, c, i * b * c);
        }
        emit(ctx, name, name, t, [a, c, b], data, 'transpose(1, 2)');
        return true;
      }
      return false;
    case '7':
      if (part === 'x_rwkvag') {
        const c = ctx.nEmbd;
        if (c <= 0 || t.data.length !== 6 * c) {
          throw new ShapeMismatchError(
            `expected [6, 1, ${c}] (x_r, x_w, x_k, x_v, x_a, x_g), got [${t.shape.join(', ')}]`,
            {
              file: ctx.file,
              field: name,
            },
          );
        }
        const letters = ['r', 'w', 'k', 'v', 'a', 'g'];
        letters.forEach((letter, i) => {
          emit(
            ctx,
            `${prefix}x_${letter}`,
            name,
            t,
            [1, 1, c],
            t.data.slice(i * c, (i + 1) * c),
            `slice ${i} of 6 along dim 0`,
          );
        });
        return true;
      }
      if (/^[wavg][12]$/.test(part)) {
        transpose2d(ctx, name, name, t);
        return true;
      }
      return false;
  }
}

function emit(
  ctx: Ctx,
  official: string,
  stored: string,
  t: HostTensor,
  shape: readonly number[],
  data: Float32Array,
  inverse: string,
): void {
  if (ctx.out.has(official)) {
    throw new MalformedFileError('tensor appears twice after canonicalization', {
      file: ctx.file,
      field: official,
    });
  }
  ctx.out.set(official, hostTensor(shape, data, t.storedAs));
  ctx.changes.push({ official, stored, storedShape: t.shape, officialShape: [...shape], inverse });
}

/** [H, N, 1] (or [N, 1] when H was 1 and squeezed away) -> [H, N]. */
function headShape(ctx: Ctx, name: string, t: HostTensor): number[] {
  const s = t.shape;
  if (s.length === 3 && s[2] === 1) return [s[0]!, s[1]!];
  if (s.length === 2 && s[1] === 1) return [1, s[0]!];
  throw new ShapeMismatchError(`expected [H, N, 1] as rwkv.cpp stores it, got [${s.join(', ')}]`, {
    file: ctx.file,
    field: name,
  });
}

function transpose2d(ctx: Ctx, official: string, stored: string, t: HostTensor): void {
  if (t.shape.length !== 2) {
    throw new ShapeMismatchError(`expected a matrix to transpose back, got [${t.shape.join(', ')}]`, {
      file: ctx.file,
      field: stored,
    });
  }
  const [rows, cols] = t.shape as [number, number];
  const data = sharedFloat32(t.data.length);
  transposeInto(t.data, data, rows, cols, 0);
  emit(ctx, official, stored, t, [cols, rows], data, 'transpose(0, 1)');
}

/** Writes the transpose of the rows x cols matrix at `base` of `src` to the same place of `dst`. */
function transposeInto(src: Float32Array, dst: Float32Array, rows: number, cols: number, base: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) dst[base + c * rows + r] = src[base + r * cols + c]!;
  }
}

function mapValues(
  ctx: Ctx,
  name: string,
  t: HostTensor,
  f: (s: number) => number | undefined,
): Float32Array {
  const out = sharedFloat32(t.data.length);
  for (let i = 0; i < t.data.length; i++) {
    const s = t.data[i]!;
    const v = f(s);
    if (v === undefined || !Number.isFinite(v)) {
      throw new MalformedFileError(
        `stored value ${s} at index ${i} is outside the range rwkv.cpp's converter produces for this tensor`,
        { file: ctx.file, field: name },
      );
    }
    out[i] = v;
  }
  return out;
}

/** v4 time_decay: s = -exp(w). */
function invertNegExp(s: number): number | undefined {
  if (Number.isNaN(s) || s > 0) return undefined;
  if (s === 0) return -104;
  return Math.log(-s);
}

/** v5 time_decay: s = exp(-exp(w)), 0 <= s <= 1. */
function invertExpNegExp(s: number): number | undefined {
  if (Number.isNaN(s) || s < 0 || s > 1) return undefined;
  if (s === 1) return -18;
  if (s === 0) return 4.7;
  return Math.log(-Math.log(s));
}

/** v5.1 time_first: s = exp(u). */
function invertExp(s: number): number | undefined {
  if (Number.isNaN(s) || s < 0) return undefined;
  if (s === 0) return -104;
  return Math.log(s);
}
