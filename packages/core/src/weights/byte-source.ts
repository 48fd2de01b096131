/**
 * Random access to the bytes of a weight file, either held in memory or read from disk
 * on demand. Readers ask for byte ranges through this interface so that a large file
 * need not be loaded whole before its header has been checked.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileNotFoundError, TruncatedFileError } from '../errors.js';

/** A readable, fixed-length run of bytes. */
export interface ByteSource {
  /** Path, or a description such as `<buffer>`, used in error messages. */
  readonly name: string;
  /** Total length in bytes. */
  readonly length: number;
  /**
   * Returns `length` bytes starting at `offset`. Throws TruncatedFileError naming
   * `field` when the range runs past the end. The result may share memory with the
   * source: callers must not write to it.
   */
  read(offset: number, length: number, field: string): Uint8Array;
  /** Releases an open file handle, if any. Safe to call twice. */
  close(): void;
}

function checkRange(name: string, size: number, offset: number, length: number, field: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TruncatedFileError(`invalid byte range (offset ${offset}, length ${length})`, {
      file: name,
      field,
      offset,
    });
  }
  if (offset + length > size) {
    throw new TruncatedFileError(
      `needs ${length} bytes at offset ${offset} but the file has only ${size} bytes (${Math.max(0, size - offset)} available there)`,
      { file: name, field, offset },
    );
  }
}

/** A ByteSource over bytes already in memory; `read` returns views, not copies. */
export function bufferSource(bytes: Uint8Array, name = '<buffer>'): ByteSource {
  return {
    name,
    length: bytes.byteLength,
    read(offset, length, field) {
      checkRange(name, bytes.byteLength, offset, length, field);
      return bytes.subarray(offset, offset + length);
    },
    close() {},
  };
}

/**
 * A ByteSource reading a file with positioned reads. Each `read` returns a fresh
 * buffer. Works for files larger than the largest Node buffer, as long as every
 * single range fits in one.
 */
export function fileSource(path: string): ByteSource {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new FileNotFoundError(`cannot open the file (${reason})`, { file: path });
  }
  const size = fstatSync(fd).size;
  return {
    name: path,
    length: size,
    read(offset, length, field) {
      checkRange(path, size, offset, length, field);
      if (fd === undefined)
        throw new TruncatedFileError('file was already closed', { file: path, field, offset });
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n <= 0) {
          throw new TruncatedFileError(`file ended while reading ${length} bytes at offset ${offset}`, {
            file: path,
            field,
            offset: offset + done,
          });
        }
        done += n;
      }
      return out;
    },
    close() {
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
      }
    },
  };
}

/** A DataView over exactly the bytes of `bytes` (which may be a view into a larger buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Returns `bytes` as a Uint8Array whose byteOffset is a multiple of `alignment`,
 * copying only when needed, so typed-array views of the element type can be made.
 */
export function aligned(bytes: Uint8Array, alignment: number): Uint8Array {
  if (bytes.byteOffset % alignment === 0) return bytes;
  return bytes.slice();
}
