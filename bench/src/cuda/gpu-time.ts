import { CudaEvent, type CudaRuntime } from '@rwkv-streams/cuda';

/**
 * GPU milliseconds of one `enqueue` on the runtime's stream: once to warm up, then the
 * median of 5 timings (events around `reps` back to back, divided by `reps`).
 */
export function gpuMs(rt: CudaRuntime, enqueue: () => void, reps: number): number {
  enqueue();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const [a, b] = [CudaEvent.create(), CudaEvent.create()];
    a.record(rt.stream);
    for (let i = 0; i < reps; i++) enqueue();
    b.record(rt.stream);
    b.synchronize();
    times.push(b.elapsedSince(a) / reps);
    a.dispose();
    b.dispose();
  }
  return times.sort((x, y) => x - y)[2]!;
}

/**
 * Device-to-device copy bandwidth (bytes read + written per second) over two 1 GiB
 * buffers: the yardstick of the weight-streaming bound.
 */
export function copyBandwidth(rt: CudaRuntime): number {
  const bytes = 1 << 30;
  const [a, b] = [rt.ctx.malloc(bytes), rt.ctx.malloc(bytes)];
  const ms = gpuMs(rt, () => rt.ctx.copyDeviceAsync(b, a, bytes, rt.stream), 20);
  rt.ctx.free(a);
  rt.ctx.free(b);
  return (2 * bytes) / (ms / 1000);
}
