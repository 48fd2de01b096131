/**
 * The symbolic meaning of the globals torch.save writes into `data.pkl`, for the safe
 * pickle machine. Nothing here imports or runs Python: each allowed global maps to a
 * pure function that builds a descriptor (a storage reference, a tensor view, a dict).
 *
 * What torch.save (torch/serialization.py `_save`, torch/_tensor.py `_reduce_ex_internal`,
 * torch/_utils.py) writes for a state dict, pickle protocol 2:
 * - an OrderedDict: `collections.OrderedDict` REDUCE `()`, then SETITEMS, and for
 *   `module.state_dict()` a BUILD with `{'_metadata': OrderedDict(...)}`; or a plain dict;
 * - each tensor: `torch._utils._rebuild_tensor_v2` REDUCE `(storage, storage_offset, size,
 *   stride, requires_grad, OrderedDict())` (a 7th `metadata` argument when the tensor has
 *   some); nn.Parameter wraps it in `torch._utils._rebuild_parameter(tensor, requires_grad,
 *   OrderedDict())` (or `_rebuild_parameter_with_state`, with a 4th state argument);
 * - each storage: BINPERSID of `('storage', torch.<Type>Storage, key, location, numel)`,
 *   whose bytes are the archive entry `<archive>/data/<key>`.
 */
import { MalformedFileError, UnsafePickleError } from '../../errors.js';
import type { PickleGlobal, PickleOpaque, PickleSemantics, PickleValue } from './pickle-machine.js';

/** Element types torch storages can have (the ones this reader decodes are the float ones). */
export type TorchDType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

/** Bytes per element of each torch dtype. */
export const TORCH_DTYPE_BYTES: Readonly<Record<TorchDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

/** Legacy typed storage classes (`torch.FloatStorage`...) and their dtypes. */
const STORAGE_TYPES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
};

/** `torch.<dtype>` globals (as used by `_rebuild_tensor_v3`) and their dtypes. */
const DTYPE_GLOBALS: Readonly<Record<string, TorchDType>> = {
  float32: 'float32',
  float: 'float32',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  float64: 'float64',
  double: 'float64',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  complex64: 'complex64',
  complex128: 'complex128',
};

const REBUILD = new Set([
  '_rebuild_tensor',
  '_rebuild_tensor_v2',
  '_rebuild_tensor_v3',
  '_rebuild_parameter',
  '_rebuild_parameter_with_state',
]);

/**
 * Every global a torch.save state dict may name, as `module.name`. Storage classes, dtypes
 * and `torch.serialization._get_layout` only ever become inert symbols.
 */
export function isAllowedTorchGlobal(module: string, name: string): boolean {
  switch (module) {
    case 'collections':
      return name === 'OrderedDict';
    case 'torch._utils':
      return REBUILD.has(name);
    case 'torch._tensor':
      return name === '_rebuild_from_type_v2';
    case 'torch':
      return (
        name in STORAGE_TYPES ||
        name in DTYPE_GLOBALS ||
        name === 'Size' ||
        name === 'UntypedStorage' ||
        name === 'Tensor'
      );
    case 'torch.storage':
      return name === 'UntypedStorage' || name === '_TypedStorage' || name === 'TypedStorage';
    case 'torch.nn.parameter':
      return name === 'Parameter';
    case 'torch.serialization':
      return name === '_get_layout';
    case '_codecs':
      return name === 'encode';
    default:
      return false;
  }
}

/** A storage named by a persistent id: the archive entry `data/<key>`. */
export interface StorageRef {
  /** Entry key (`data/<key>`). */
  readonly key: string;
  /** Element type; `uint8` for untyped storages. */
  readonly dtype: TorchDType;
  /** Number of elements of `dtype` (bytes for untyped storages). */
  readonly numel: number;
  /** Device the tensor was saved from (`cpu`, `cuda:0`...), informative. */
  readonly location: string;
}

/** A tensor as a strided view of a storage. */
export interface TensorRef {
  /** The storage holding the elements. */
  readonly storage: StorageRef;
  /** Element type of the tensor (the storage's, or `_rebuild_tensor_v3`'s dtype). */
  readonly dtype: TorchDType;
  /** Offset of element [0, ..., 0] in the storage, in elements of `dtype`. */
  readonly offset: number;
  /** Dimensions, outermost first. */
  readonly size: readonly number[];
  /** Stride of each dimension, in elements. */
  readonly stride: readonly number[];
  /** Byte offset of the GLOBAL / REDUCE that built it, for messages. */
  readonly pickleOffset: number;
}

/** Wraps a storage reference for the machine. */
function storageValue(ref: StorageRef): PickleOpaque {
  return { kind: 'opaque', type: 'storage', value: ref };
}

/** Wraps a tensor reference for the machine. */
function tensorValue(ref: TensorRef): PickleOpaque {
  return { kind: 'opaque', type: 'tensor', value: ref };
}

/** The TensorRef inside a machine value, or undefined. */
export function asTensorRef(v: PickleValue): TensorRef | undefined {
  if (typeof v === 'object' && v !== null && v.kind === 'opaque' && v.type === 'tensor')
    return v.value as TensorRef;
  return undefined;
}

function asStorageRef(v: PickleValue): StorageRef | undefined {
  if (typeof v === 'object' && v !== null && v.kind === 'opaque' && v.type === 'storage')
    return v.value as StorageRef;
  return undefined;
}

function intList(v: PickleValue): number[] | undefined {
  if (typeof v !== 'object' || v === null || (v.kind !== 'tuple' && v.kind !== 'list')) return undefined;
  const out: number[] = [];
  for (const x of v.items) {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return undefined;
    out.push(x);
  }
  return out;
}

function dtypeOfGlobal(v: PickleValue): TorchDType | undefined {
  if (typeof v === 'object' && v !== null && v.kind === 'global' && v.module === 'torch')
    return DTYPE_GLOBALS[v.name];
  return undefined;
}

/** Pickle semantics for torch.save's `data.pkl`; `file` names the archive in errors. */
export function torchSemantics(file: string): PickleSemantics {
  const bad = (msg: string, field: string, offset: number): never => {
    throw new MalformedFileError(msg, { file, field, offset });
  };
  const call = (callee: PickleGlobal, args: readonly PickleValue[], offset: number): PickleValue => {
    const fq = `${callee.module}.${callee.name}`;
    switch (fq) {
      case 'collections.OrderedDict': {
        const d: PickleValue = { kind: 'dict', entries: new Map() };
        if (args.length > 0) bad('OrderedDict with constructor arguments is not expected', fq, offset);
        return d;
      }
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor_v3': {
        const minArgs = fq.endsWith('_v3') ? 7 : fq.endsWith('_v2') ? 6 : 4;
        if (args.length < minArgs || args.length > minArgs + 1) {
          bad(`${callee.name} takes ${minArgs} or ${minArgs + 1} arguments, got ${args.length}`, fq, offset);
        }
        const storage = asStorageRef(args[0]!);
        const storageOffset = args[1];
        const size = intList(args[2]!);
        const stride = intList(args[3]!);
        if (storage === undefined) return bad('first argument is not a storage (persistent id)', fq, offset);
        if (typeof storageOffset !== 'number' || !Number.isSafeInteger(storageOffset) || storageOffset < 0) {
          return bad('storage_offset is not a non-negative integer', fq, offset);
        }
        if (size === undefined || stride === undefined || size.length !== stride.length) {
          return bad('size and stride must be integer tuples of equal length', fq, offset);
        }
        let dtype = storage.dtype;
        if (fq.endsWith('_v3')) {
          const d = dtypeOfGlobal(args[6]!);
          if (d === undefined)
            return bad('dtype argument of _rebuild_tensor_v3 is not a torch dtype', fq, offset);
          dtype = d;
        }
        return tensorValue({ storage, dtype, offset: storageOffset, size, stride, pickleOffset: offset });
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state': {
        if (args.length < 3 || asTensorRef(args[0]!) === undefined) {
          return bad(`${callee.name} expects (tensor, requires_grad, hooks[, state])`, fq, offset);
        }
        return args[0]!;
      }
      case 'torch._tensor._rebuild_from_type_v2': {
        // (func, type, args, state): only plain Tensor / Parameter types, func an allowed rebuild.
        const [func, type, inner] = args;
        const typeOk =
          typeof type === 'object' &&
          type !== null &&
          type.kind === 'global' &&
          ((type.module === 'torch' && type.name === 'Tensor') ||
            (type.module === 'torch.nn.parameter' && type.name === 'Parameter'));
        if (
          typeof func !== 'object' ||
          func === null ||
          func.kind !== 'global' ||
          !typeOk ||
          typeof inner !== 'object' ||
          inner === null ||
          inner.kind !== 'tuple'
        ) {
          return bad('_rebuild_from_type_v2 is only accepted for torch.Tensor / Parameter', fq, offset);
        }
        return call(func, inner.items, offset);
      }
      case 'torch.Size':
        if (args.length !== 1) bad('torch.Size takes one tuple', fq, offset);
        return args[0]!;
      case 'torch.serialization._get_layout':
        return { kind: 'opaque', type: 'layout', value: args[0] };
      case '_codecs.encode': {
        // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          return bad("_codecs.encode is only accepted as encode(str, 'latin1')", fq, offset);
        }
        const data = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) data[i] = text.charCodeAt(i) & 0xff;
        return { kind: 'bytes', data };
      }
      default:
        return bad(`${fq} cannot be called`, fq, offset);
    }
  };
  return {
    isAllowed: isAllowedTorchGlobal,
    call,
    persistentLoad(pid, offset) {
      if (typeof pid !== 'object' || pid === null || pid.kind !== 'tuple' || pid.items[0] !== 'storage') {
        return bad(
          "persistent id is not a ('storage', type, key, location, numel) tuple",
          'BINPERSID',
          offset,
        );
      }
      const [, type, key, location, numel] = pid.items;
      if (typeof type !== 'object' || type === null || type.kind !== 'global') {
        return bad('storage type is not a global', 'BINPERSID', offset);
      }
      let dtype: TorchDType | undefined;
      if (type.module === 'torch' && type.name in STORAGE_TYPES) dtype = STORAGE_TYPES[type.name];
      else if (type.name === 'UntypedStorage') dtype = 'uint8';
      if (dtype === undefined) {
        throw new UnsafePickleError(`storage type ${type.module}.${type.name} is not a tensor storage`, {
          file,
          field: `${type.module}.${type.name}`,
          offset,
        });
      }
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) {
        return bad('storage key is not a plain name', 'BINPERSID', offset);
      }
      if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
        return bad('storage size is not a non-negative integer', 'BINPERSID', offset);
      }
      return storageValue({ key, dtype, numel, location: typeof location === 'string' ? location : '' });
    },
    build(target, _state) {
      // A tensor or Parameter given Python attributes: keep the tensor, drop the attributes.
      if (asTensorRef(target) !== undefined) return target;
      return undefined;
    },
  };
}
