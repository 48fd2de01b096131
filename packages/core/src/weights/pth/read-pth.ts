/**
 * Safe reader for PyTorch checkpoints written by `torch.save` (zip format, PyTorch >= 1.6):
 * a ZIP archive with one top-level folder (named after the file by torch, `archive` for
 * buffers; any name is accepted) holding `data.pkl` (the pickled object), `data/<key>`
 * (raw storage bytes), `byteorder` (`little` / `big`; absent in old files = little) and
 * `version`. The pickle is interpreted by our own machine with an allow-list of globals;
 * nothing in it is ever executed.
 *
 * Legacy (non-zip) torch.save files are refused after a safety scan; TorchScript archives
 * are refused.
 */
import { readFileSync } from 'node:fs';
import { MalformedFileError, UnknownVersionError, UnsupportedDTypeError } from '../../errors.js';
import { type HostTensor, hostTensor } from '../../tensor/host-tensor.js';
import { sharedFloat32 } from '../../tensor/shared-floats.js';
import { type ByteSource, bufferSource, fileSource } from '../byte-source.js';
import { decodeFloats, type FloatDType } from '../decode.js';
import type { WeightFile } from '../weight-file.js';
import { type PickleKey, type PickleValue, unpickle } from './pickle-machine.js';
import { asTensorRef, type TensorRef, TORCH_DTYPE_BYTES, torchSemantics } from './torch-pickle.js';
import { listZipEntries, readZipEntry, type ZipEntry } from './zip.js';

/** torch.save's legacy (pre-1.6) magic number, the first pickle of a non-zip file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

const FLOAT_TYPES: ReadonlySet<string> = new Set<FloatDType>(['float32', 'float16', 'bfloat16', 'float64']);

/** Flattened content of the pickled object. */
interface Flat {
  tensors: [string, TensorRef][];
  metadata: Record<string, string | number>;
}

function keyText(k: PickleKey): string {
  return k === null ? 'None' : String(k);
}

/** Walks dicts, lists and tuples; tensors become dotted names, scalars metadata. */
function flatten(value: PickleValue, file: string): Flat {
  const flat: Flat = { tensors: [], metadata: {} };
  const seen = new Set<string>();
  const walk = (v: PickleValue, path: string, depth: number): void => {
    if (depth > 64)
      throw new MalformedFileError('object nesting is deeper than 64 levels', { file, field: path });
    const tensor = asTensorRef(v);
    if (tensor !== undefined) {
      const name = path === '' ? 'tensor' : path;
      if (seen.has(name))
        throw new MalformedFileError('two tensors flatten to the same name', { file, field: name });
      seen.add(name);
      flat.tensors.push([name, tensor]);
      return;
    }
    const join = (k: string): string => (path === '' ? k : `${path}.${k}`);
    if (typeof v === 'number' || typeof v === 'string') {
      flat.metadata[`pth.${path}`] = v;
    } else if (typeof v === 'bigint' || typeof v === 'boolean') {
      flat.metadata[`pth.${path}`] = String(v);
    } else if (v !== null && typeof v === 'object') {
      if (v.kind === 'dict') {
        for (const [k, x] of v.entries) walk(x, join(keyText(k)), depth + 1);
      } else if (v.kind === 'list' || v.kind === 'tuple') {
        for (let i = 0; i < v.items.length; i++) walk(v.items[i]!, join(String(i)), depth + 1);
      }
    }
  };
  walk(value, '', 0);
  return flat;
}

/** Decodes one tensor: checks its view lies inside the storage, gathers it row-major. */
function materialize(
  name: string,
  t: TensorRef,
  storage: Uint8Array,
  littleEndian: boolean,
  file: string,
  cache: Map<string, Float32Array>,
): HostTensor {
  if (!FLOAT_TYPES.has(t.dtype)) {
    throw new UnsupportedDTypeError(
      `tensor dtype ${t.dtype} is not decoded (float32, float16, bfloat16, float64 are)`,
      {
        file,
        field: name,
        offset: t.pickleOffset,
      },
    );
  }
  const dtype = t.dtype as FloatDType;
  const elementBytes = TORCH_DTYPE_BYTES[dtype];
  const storageElements = Math.floor((t.storage.numel * TORCH_DTYPE_BYTES[t.storage.dtype]) / elementBytes);
  if (storage.byteLength < storageElements * elementBytes) {
    throw new MalformedFileError(
      `storage data/${t.storage.key} has ${storage.byteLength} bytes, the pickle says ${storageElements} x ${elementBytes}`,
      { file, field: name, offset: t.pickleOffset },
    );
  }
  const count = t.size.reduce((a, b) => a * b, 1);
  let last = t.offset;
  for (let d = 0; d < t.size.length; d++) if (t.size[d]! > 0) last += (t.size[d]! - 1) * t.stride[d]!;
  if (count > 0 && last >= storageElements) {
    throw new MalformedFileError(
      `view (offset ${t.offset}, size [${t.size.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${last} of a ${storageElements}-element storage`,
      { file, field: name, offset: t.pickleOffset },
    );
  }
  const cacheKey = `${t.storage.key}:${dtype}`;
  let all = cache.get(cacheKey);
  if (all === undefined) {
    all = decodeFloats(storage.subarray(0, storageElements * elementBytes), dtype, littleEndian);
    cache.set(cacheKey, all);
  }
  const out = sharedFloat32(count); // shared: see tensor/shared-floats.ts
  if (count > 0) {
    // Row-major iteration over `size`, reading through `stride`.
    const rank = t.size.length;
    const contiguous = isContiguous(t.size, t.stride);
    if (contiguous) {
      out.set(all.subarray(t.offset, t.offset + count));
    } else {
      const idx = new Array<number>(rank).fill(0);
      let src = t.offset;
      for (let i = 0; i < count; i++) {
        out[i] = all[src]!;
        for (let d = rank - 1; d >= 0; d--) {
          idx[d]!++;
          src += t.stride[d]!;
          if (idx[d]! < t.size[d]!) break;
          src -= t.stride[d]! * t.size[d]!;
          idx[d] = 0;
        }
      }
    }
  }
  return hostTensor(t.size, out, dtype);
}

function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d]! !== 1 && stride[d]! !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/** Locates `<prefix>data.pkl` (one top-level folder of any name, or none). */
function findArchivePrefix(entries: readonly ZipEntry[], file: string): string {
  const pkl = entries.filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (pkl.length === 0) {
    const torchScript = entries.some(
      (e) => /(^|\/)constants\.pkl$/.test(e.name) || /(^|\/)code\//.test(e.name),
    );
    throw new MalformedFileError(
      torchScript
        ? 'this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint'
        : 'zip archive has no <folder>/data.pkl: not a torch.save checkpoint',
      { file, field: 'data.pkl' },
    );
  }
  if (pkl.length > 1) {
    throw new MalformedFileError(
      `zip archive has ${pkl.length} data.pkl entries (${pkl.map((e) => e.name).join(', ')})`,
      {
        file,
        field: 'data.pkl',
      },
    );
  }
  return pkl[0]!.name.slice(0, -'data.pkl'.length);
}

function readZip(src: ByteSource): WeightFile {
  const file = src.name;
  const entries = listZipEntries(src);
  const prefix = findArchivePrefix(entries, file);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const entryBytes = (name: string): Uint8Array | undefined => {
    const e = byName.get(name);
    return e === undefined ? undefined : readZipEntry(src, e);
  };
  const pklName = `${prefix}data.pkl`;
  const pkl = entryBytes(pklName)!;
  // The whole pickle is scanned and interpreted symbolically before any storage is read.
  const { value } = unpickle(
    { file: `${file}:${pklName}`, bytes: pkl },
    torchSemantics(`${file}:${pklName}`),
  );

  const order = entryBytes(`${prefix}byteorder`);
  const byteorder = order === undefined ? 'little' : new TextDecoder().decode(order).trim();
  if (byteorder !== 'little' && byteorder !== 'big') {
    throw new MalformedFileError(`byteorder record is '${byteorder}'`, { file, field: `${prefix}byteorder` });
  }
  const version = entryBytes(`${prefix}version`);
  const flat = flatten(value, file);
  // Storages are read (and decoded) once, and dropped after their last tensor.
  const remaining = new Map<string, number>();
  for (const [, t] of flat.tensors) remaining.set(t.storage.key, (remaining.get(t.storage.key) ?? 0) + 1);
  const storages = new Map<string, Uint8Array>();
  const cache = new Map<string, Float32Array>();
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of flat.tensors) {
    const key = t.storage.key;
    let bytes = storages.get(key);
    if (bytes === undefined) {
      const entryName = `${prefix}data/${key}`;
      bytes = entryBytes(entryName);
      if (bytes === undefined) {
        throw new MalformedFileError(`storage entry ${entryName} is missing from the archive`, {
          file,
          field: name,
        });
      }
      storages.set(key, bytes);
    }
    tensors.set(name, materialize(name, t, bytes, byteorder === 'little', file, cache));
    const left = remaining.get(key)! - 1;
    remaining.set(key, left);
    if (left === 0) {
      storages.delete(key);
      for (const k of cache.keys()) if (k.startsWith(`${key}:`)) cache.delete(k);
    }
  }
  const metadata: Record<string, string | number> = {
    ...flat.metadata,
    'pth.archive': prefix.replace(/\/$/, ''),
    'pth.byteorder': byteorder,
  };
  if (version !== undefined) metadata['pth.version'] = new TextDecoder().decode(version).trim();
  return { format: 'pth', source: file, tensors, metadata };
}

/**
 * A bare pickle (legacy torch.save, or not torch at all): scanned for unsafe content
 * first, then refused.
 */
function refuseRawPickle(bytes: Uint8Array, file: string): never {
  const semantics = torchSemantics(file);
  // Legacy torch.save: magic, protocol version, sys_info, the object, storage keys, raw data.
  const first = unpickle({ file, bytes }, { ...semantics, persistentLoad: undefined });
  const legacy = first.value === LEGACY_MAGIC;
  if (legacy) {
    let at = first.end;
    for (let i = 0; i < 4 && at < bytes.length && bytes[at] === 0x80; i++) {
      at = unpickle(
        { file, bytes, start: at },
        {
          ...semantics,
          persistentLoad: () => ({ kind: 'opaque', type: 'legacy-storage', value: undefined }),
        },
      ).end;
    }
    throw new UnknownVersionError(
      'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current torch.save (zip format)',
      { file, field: 'format', offset: 0 },
    );
  }
  throw new MalformedFileError('a bare pickle is not a torch.save checkpoint (expected a zip archive)', {
    file,
    field: 'format',
    offset: 0,
  });
}

/**
 * Reads a torch.save checkpoint held in memory and returns every floating-point tensor
 * (float32, float16, bfloat16, float64 decoded to float32; views made contiguous).
 * Nested containers are flattened with dotted names (`{'model': {'emb.weight': t}}` gives
 * `model.emb.weight`); scalar leaves go to `metadata` as `pth.<path>`.
 *
 * Throws UnsafePickleError for any global outside the allow-list (before any tensor is
 * read), MalformedFileError for broken archives or pickles, TruncatedFileError for cut
 * archives, UnsupportedDTypeError for non-float tensors and UnknownVersionError for
 * legacy non-zip files.
 */
export function readPth(bytes: Uint8Array, source = '<buffer>'): WeightFile {
  if (isRawPickle(bytes)) refuseRawPickle(bytes, source);
  return readZip(bufferSource(bytes, source));
}

/** Reads a torch.save checkpoint from disk, entry by entry; see {@link readPth}. */
export function readPthFile(path: string): WeightFile {
  const src = fileSource(path);
  try {
    if (src.length >= 2 && isRawPickle(src.read(0, 2, 'magic'))) {
      refuseRawPickle(new Uint8Array(readFileSync(path)), path);
    }
    return readZip(src);
  } finally {
    src.close();
  }
}

function isRawPickle(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5;
}
