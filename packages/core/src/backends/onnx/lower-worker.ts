/**
 * Worker-thread entry of `lowerInWorker`: lowers one model and posts the bytes back
 * (transferred, not copied), or the error as plain data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ExternalData } from './external-weights.js';
import { type LowerRequest, lowerHere } from './lower-request.js';

const { request, external } = workerData as {
  request: LowerRequest;
  external?: Omit<ExternalData, 'onWritten'>;
};
try {
  const { bytes, written } = lowerHere(request, external);
  parentPort?.postMessage({ ok: true, bytes, written }, [bytes.buffer as ArrayBuffer]);
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  parentPort?.postMessage({
    ok: false,
    error: { ...e, name: e.name, message: e.message, stack: e.stack },
  });
}
