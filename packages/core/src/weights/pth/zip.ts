/**
 * A small read-only ZIP reader (PKWARE APPNOTE 6.3) for torch.save archives: finds the
 * central directory (ZIP64 included), lists entries, and returns an entry's bytes
 * (stored entries as views of the file, deflated ones through fflate), checking CRC-32.
 */
import { inflateSync } from 'fflate';
import { MalformedFileError, TruncatedFileError } from '../../errors.js';
import { type ByteSource, viewOf } from '../byte-source.js';

/** One file of the archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  /** Bytes in the archive. */
  readonly compressedSize: number;
  /** Bytes after decompression. */
  readonly size: number;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
  /** Offset of the entry's local header. */
  readonly localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;

function u64(v: DataView, at: number, file: string, field: string): number {
  const big = v.getBigUint64(at, true);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedFileError(`64-bit value ${big} is too large`, { file, field });
  }
  return Number(big);
}

/** Lists the entries of a ZIP archive from its central directory. */
export function listZipEntries(src: ByteSource): ZipEntry[] {
  const file = src.name;
  const tailLength = Math.min(src.length, 22 + 0xffff);
  const tail = src.read(src.length - tailLength, tailLength, 'zip end of central directory');
  const tv = viewOf(tail);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new TruncatedFileError(
      'zip end-of-central-directory record not found: the archive is cut short or corrupt',
      {
        file,
        field: 'zip end of central directory',
        offset: src.length,
      },
    );
  }
  const eocdOffset = src.length - tailLength + eocd;
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = eocdOffset - 20;
    const loc = viewOf(src.read(locAt, 20, 'zip64 locator'));
    if (loc.getUint32(0, true) !== SIG_ZIP64_LOCATOR) {
      throw new MalformedFileError('ZIP64 sizes announced but no ZIP64 locator found', {
        file,
        field: 'zip64 locator',
        offset: locAt,
      });
    }
    const z64At = u64(loc, 8, file, 'zip64 locator');
    const z = viewOf(src.read(z64At, 56, 'zip64 end of central directory'));
    if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) {
      throw new MalformedFileError('bad ZIP64 end-of-central-directory signature', {
        file,
        field: 'zip64 end of central directory',
        offset: z64At,
      });
    }
    count = u64(z, 32, file, 'zip64 entry count');
    cdSize = u64(z, 40, file, 'zip64 central directory size');
    cdOffset = u64(z, 48, file, 'zip64 central directory offset');
  }
  const cd = src.read(cdOffset, cdSize, 'zip central directory');
  const v = viewOf(cd);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== SIG_CENTRAL) {
      throw new MalformedFileError(`central directory entry ${i} is missing or has a bad signature`, {
        file,
        field: 'zip central directory',
        offset: cdOffset + p,
      });
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc32 = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    if (p + 46 + nameLength + extraLength + commentLength > cd.length) {
      throw new MalformedFileError(`central directory entry ${i} runs past the directory`, {
        file,
        field: 'zip central directory',
        offset: cdOffset + p,
      });
    }
    const name = new TextDecoder('utf-8').decode(cd.subarray(p + 46, p + 46 + nameLength));
    if (flags & 1) {
      throw new MalformedFileError('encrypted zip entries are not supported', {
        file,
        field: name,
        offset: cdOffset + p,
      });
    }
    // ZIP64 extended information: the 0xffffffff fields, in order size, compressed size, offset.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + len) {
            throw new MalformedFileError('short ZIP64 extra field', {
              file,
              field: name,
              offset: cdOffset + q,
            });
          }
          const x = u64(v, q, file, name);
          q += 8;
          return x;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, crc32, localHeaderOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as ZIP uses) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Returns the uncompressed bytes of `entry` (a view of the source for stored entries).
 * Throws TruncatedFileError when the data runs past the end of the file and
 * MalformedFileError for bad headers, unknown methods, size or CRC mismatches.
 */
export function readZipEntry(src: ByteSource, entry: ZipEntry): Uint8Array {
  const file = src.name;
  const lh = viewOf(src.read(entry.localHeaderOffset, 30, entry.name));
  if (lh.getUint32(0, true) !== SIG_LOCAL) {
    throw new MalformedFileError('bad local header signature', {
      file,
      field: entry.name,
      offset: entry.localHeaderOffset,
    });
  }
  const dataOffset = entry.localHeaderOffset + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
  const raw = src.read(dataOffset, entry.compressedSize, entry.name);
  let data: Uint8Array;
  if (entry.method === 0) {
    data = raw;
  } else if (entry.method === 8) {
    try {
      data = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (e) {
      throw new MalformedFileError(`deflate data is corrupt: ${(e as Error).message}`, {
        file,
        field: entry.name,
        offset: dataOffset,
      });
    }
  } else {
    throw new MalformedFileError(
      `compression method ${entry.method} is not supported (only stored and deflate)`,
      {
        file,
        field: entry.name,
        offset: entry.localHeaderOffset,
      },
    );
  }
  if (data.length !== entry.size) {
    throw new MalformedFileError(`entry has ${data.length} bytes, the directory says ${entry.size}`, {
      file,
      field: entry.name,
      offset: dataOffset,
    });
  }
  const crc = crc32(data);
  if (crc !== entry.crc32) {
    throw new MalformedFileError(
      `CRC-32 is ${crc.toString(16)}, the directory says ${entry.crc32.toString(16)}: the entry is corrupt`,
      { file, field: entry.name, offset: dataOffset },
    );
  }
  return data;
}
