import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompileOptions } from '../backend.js';
import type { ExternalData } from './external-weights.js';
import { createOnnxSession, type OnnxCompiledGraph } from './onnx-session.js';

/**
 * CPU models whose weights reach this many bytes are handed to onnxruntime as a model file
 * with external weights (`external-weights.ts` says why) rather than as bytes in memory.
 */
export const EXTERNAL_WEIGHTS_MIN_BYTES = 16 * 2 ** 20;

/**
 * Lowers a model with `lower` and creates its session. Large CPU models go through two
 * temporary files (the model and its weights, under the OS temp folder), removed as soon as
 * onnxruntime has the session: it keeps its own mapping of the weights, which outlives the
 * file's name on Linux and macOS (where removal fails, as for a mapped file on Windows, the
 * folder is left in the temp folder). No room or no permission for the files: the model is
 * created from memory as for small models. `RWKV_STREAMS_ONNX_EXTERNAL_WEIGHTS=0` turns the
 * file route off (for measuring). Where the temp folder lives in memory (tmpfs), the removed
 * file's pages stay in memory while mapped: outside the process's resident set, not free.
 */
export async function createLoweredSession(
  lower: (external?: ExternalData) => Uint8Array | Promise<Uint8Array>,
  weightBytes: number,
  options: CompileOptions,
  what: string,
  minBytes = EXTERNAL_WEIGHTS_MIN_BYTES,
): Promise<OnnxCompiledGraph> {
  const external =
    options.device === 'cpu' &&
    weightBytes >= minBytes &&
    process.env['RWKV_STREAMS_ONNX_EXTERNAL_WEIGHTS'] !== '0';
  if (!external) return createOnnxSession(await lower(), options, what);
  removeStaleFolders(tmpdir());
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), FOLDER_PREFIX));
  } catch (err) {
    if (isFileSystemError(err)) return createOnnxSession(await lower(), options, what);
    throw err;
  }
  try {
    const path = join(dir, 'model.onnx');
    let written = 0;
    let bytes: Uint8Array;
    try {
      bytes = await lower({
        file: join(dir, 'weights.bin'),
        location: 'weights.bin',
        onWritten: (n) => {
          written = n;
        },
      });
      writeFileSync(path, bytes);
    } catch (err) {
      if (!isFileSystemError(err)) throw err;
      return await createOnnxSession(await lower(), options, what);
    }
    return await createOnnxSession({ path, bytes: bytes.byteLength + written }, options, what);
  } finally {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a file still in use where the OS refuses to remove it: left in the temp folder
    }
  }
}

/** The temp folders of this route: `rwkv-streams-onnx-` and six random characters. */
const FOLDER_PREFIX = 'rwkv-streams-onnx-';

/**
 * A folder of this route lives for the seconds a session takes to make; one an hour old was
 * left by a process that died meanwhile (its model and weights, hundreds of MB): removed
 * here, on the next large model's way through.
 */
export const STALE_FOLDER_MS = 60 * 60 * 1000;

/** Removes this route's folders under `parent` last changed more than `olderThanMs` ago. */
export function removeStaleFolders(parent: string, olderThanMs = STALE_FOLDER_MS, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(FOLDER_PREFIX)) continue;
    const path = join(parent, name);
    try {
      if (now - statSync(path).mtimeMs > olderThanMs) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

/** An error of the file system (ENOSPC, EACCES, EROFS, ...), as node reports them. */
function isFileSystemError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('E');
}
