/**
 * A zeroed Float32Array of `n` elements in shared memory (over a SharedArrayBuffer). The
 * weight loaders and `randomRwkvWeights` make their tensors this way, so that a model large
 * enough to be lowered in a worker thread (backends/onnx/lower-in-worker.ts) hands its
 * weights over without a copy: copying them into shared memory there cost the 0.1B RWKV-7
 * model (750 MB) 2.6-2.8 s of its 8.5 s from `new RwkvModel` to the first token on the
 * 2-core development machine, nearly all of it the first touch of fresh pages. Shared memory
 * reads and writes as any typed array, and koffi (the CUDA backend's copies) takes it as any;
 * onnxruntime-node refuses it as a session input at run, so the ONNX backend copies such
 * inputs first (onnx-session.ts), and a transfer list refuses it.
 */
export function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
}
