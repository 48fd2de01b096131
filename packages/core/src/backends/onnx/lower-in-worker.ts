import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as errors from '../../errors.js';
import type { ExternalData } from './external-weights.js';
import { type Lowered, type LowerRequest, lowerHere } from './lower-request.js';

/**
 * Lowers a model in a worker thread, with the weights file written there too, when
 * `RWKV_STREAMS_LOWER_IN_WORKER=1` (off by default: below).
 *
 * Why: lowering and quantizing a large model allocates and drops hundreds of MB in the
 * JavaScript heap, and V8 sizes its heap limits from that history. In a process that lowered
 * the 0.1B RWKV-7 model on its main thread, V8 then ran a full mark-compact about every 13
 * decode tokens (none in a process that only opened the lowered model), and int4 decode took
 * 1.1x the time of the same model lowered in a worker, which has its own isolate and heap
 * (bench/README.md, "Garbage collection after loading"). Why not by default: the process
 * then kept about 270 MiB more resident memory after loading the int4 0.1B model (anonymous
 * memory of the finished worker that the allocator does not give back), against the
 * CPU-speed issue's 1.2x-its-weights target.
 *
 * The graphs are copied to the worker (structured clone: each weight buffer once; the
 * caller's arrays stay as they are) and the model bytes come back transferred. An error of
 * the lowering comes back as the same class (a `BadInputError` naming its field). Lowers in
 * this thread when the switch is off, where the worker script is not there (running from
 * TypeScript sources, as the unit tests do) or where the worker cannot run.
 */
export async function lowerInWorker(request: LowerRequest, external?: ExternalData): Promise<Uint8Array> {
  const file = external ? { file: external.file, location: external.location } : undefined;
  const script = fileURLToPath(new URL('./lower-worker.js', import.meta.url));
  const lowered =
    process.env['RWKV_STREAMS_LOWER_IN_WORKER'] !== '1' || !existsSync(script)
      ? lowerHere(request, file)
      : // a worker that could not run at all (no reply: it failed to start or died) costs
        // only the speed-up: the model is lowered here instead
        ((await runWorker(script, request, file)) ?? lowerHere(request, file));
  if (external) external.onWritten?.(lowered.written);
  return lowered.bytes;
}

type Reply = { ok: true; bytes: Uint8Array; written: number } | { ok: false; error: WorkerError };

/** An error as the worker posts it: its own fields (code, file, field, offset) included. */
type WorkerError = { name: string; message: string; stack?: string } & Record<string, unknown>;

function runWorker(
  script: string,
  request: LowerRequest,
  external: Omit<ExternalData, 'onWritten'> | undefined,
): Promise<Lowered | undefined> {
  return new Promise((resolve, reject) => {
    // Not the parent's --input-type (or --eval): they would apply to the worker's script file.
    const execArgv = process.execArgv.filter((a) => !/^--(input-type|eval|print)\b|^-[ep]$/.test(a));
    const worker = new Worker(script, { execArgv });
    worker.postMessage({ request, external });
    let replied = false;
    worker.once('message', (reply: Reply) => {
      replied = true;
      void worker.terminate();
      if (reply.ok) resolve({ bytes: reply.bytes, written: reply.written });
      else reject(revive(reply.error));
    });
    worker.once('error', () => {
      if (!replied) resolve(undefined);
    });
    worker.once('exit', () => {
      if (!replied) resolve(undefined);
    });
  });
}

/** The error the worker caught, as an instance of the same class when it is one of ours. */
function revive(e: WorkerError): Error {
  const cls = (errors as Record<string, unknown>)[e.name];
  const proto =
    typeof cls === 'function' && cls.prototype instanceof Error ? (cls.prototype as Error) : Error.prototype;
  const out = Object.create(proto) as Error & Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) {
    Object.defineProperty(out, k, {
      value: v,
      writable: true,
      configurable: true,
      enumerable: k !== 'stack' && k !== 'message' && k !== 'name',
    });
  }
  return out;
}
