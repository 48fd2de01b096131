import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as errors from '../../errors.js';
import type { Graph, Initializer } from '../../graph/ir.js';
import type { ExternalData } from './external-weights.js';
import { type Lowered, type LowerRequest, lowerHere } from './lower-request.js';

/**
 * Lowers a model in a worker thread, with the weights file written there too.
 *
 * Why: lowering and quantizing a large model allocates and drops hundreds of MB in the
 * JavaScript heap, and V8 sizes its heap limits from that history. In a process that lowered
 * the 0.1B RWKV-7 model on its main thread, V8 then ran a full mark-compact about every 13
 * decode tokens (none after lowering in a worker, which has its own isolate and heap), and
 * int4 decode took about 1.1x the time (bench/README.md, "Garbage collection after
 * loading"); resident memory after loading stays within 5% of in-thread lowering. The main
 * thread is also free while the model loads.
 *
 * The graphs are copied to the worker (structured clone: each weight buffer once; the
 * caller's arrays stay as they are) and the model bytes come back transferred. An error of
 * the lowering comes back as the same class (a `BadInputError` naming its field). Lowers in
 * this thread instead with `RWKV_STREAMS_LOWER_IN_WORKER=0`, where the worker script is not
 * there (running from TypeScript sources, as the unit tests do), or where the worker cannot
 * run (with a process warning saying why).
 */
export async function lowerInWorker(request: LowerRequest, external?: ExternalData): Promise<Uint8Array> {
  const script = fileURLToPath(new URL('./lower-worker.js', import.meta.url));
  if (process.env['RWKV_STREAMS_LOWER_IN_WORKER'] === '0' || !existsSync(script))
    return lowerHere(request, external).bytes;
  const file = external ? { file: external.file, location: external.location } : undefined;
  const lowered = await runWorker(script, shareWeights(request), file);
  // a worker that could not run at all (no reply: it failed to start or died) costs only
  // the speed-up: the model is lowered here instead
  if (!lowered) return lowerHere(request, external).bytes;
  external?.onWritten?.(lowered.written);
  return lowered.bytes;
}

/**
 * The request with every weight in shared memory, so that posting it to the worker moves no
 * weight bytes through V8's serializer (2.1 s for the 0.1B model's 750 MB, then as long
 * again to read them back). Weights already there (the loaders and `randomRwkvWeights` make
 * them so: tensor/shared-floats.ts) go as they are; others (made by the caller, or derived
 * by the graph builder) are copied, once each when the graphs share them (the step and
 * sequence graphs hold the same weights). Copying all of the 0.1B model's took 2.6-2.8 s
 * on the 2-core development machine, mostly first touches of fresh pages.
 */
export function shareWeights(request: LowerRequest): LowerRequest {
  const copies = new Map<Float32Array, Float32Array>();
  const share = (graph: Graph): Graph => {
    const initializers = new Map<string, Initializer>();
    for (const [name, init] of graph.initializers) {
      let data =
        init.tensor.data.buffer instanceof SharedArrayBuffer
          ? init.tensor.data
          : copies.get(init.tensor.data);
      if (!data) {
        data = new Float32Array(new SharedArrayBuffer(init.tensor.data.byteLength));
        data.set(init.tensor.data);
        copies.set(init.tensor.data, data);
      }
      initializers.set(name, { ...init, tensor: { ...init.tensor, data } });
    }
    return { ...graph, initializers };
  };
  return request.kind === 'single'
    ? { ...request, graph: share(request.graph) }
    : { ...request, whenTimeIs1: share(request.whenTimeIs1), otherwise: share(request.otherwise) };
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
    let replied = false;
    const fail = (err: unknown) => {
      if (replied) return;
      replied = true;
      const reason = err instanceof Error ? err.message : `exit code ${String(err)}`;
      process.emitWarning(`the lowering worker could not run (${reason}); lowering on this thread`);
      resolve(undefined);
    };
    let worker: Worker;
    try {
      // None of the parent's Node options: a worker refuses per-process ones (--expose-gc), and
      // --input-type or --eval would apply to its script file.
      worker = new Worker(script, { workerData: { request, external }, execArgv: [] });
    } catch (err) {
      fail(err);
      return;
    }
    worker.once('message', (reply: Reply) => {
      replied = true;
      if (reply.ok) resolve({ bytes: reply.bytes, written: reply.written });
      else reject(revive(reply.error));
    });
    worker.once('error', fail);
    worker.once('exit', fail);
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
