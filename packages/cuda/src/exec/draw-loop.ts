import {
  CU_EVENT_DISABLE_TIMING,
  CudaEvent,
  type DevicePtr,
  encodeKernelArgs,
} from '../driver/cuda-driver.js';
import { DRAW_TOKEN, DRAW_TOKEN_THREADS, drawScratchBytes, drawTokenBlocks } from '../kernels/draw-token.js';
import type { CudaRuntime } from '../runtime.js';
import type { Step } from './step.js';

/** One session step of a draw loop, already prepared: what runs before each draw. */
export interface DrawLoopStep {
  /** Copies the session's carried values into the plan's inputs (none without carry). */
  readonly into?: Step;
  /** Enqueues the plan itself (its CUDA graph after the first call). */
  readonly plan: () => void;
  /** Copies the plan's carried outputs back into the session (after the last step). */
  readonly back?: Step;
  /** Copies the plan's carried outputs into its inputs (between steps). */
  readonly feed?: Step;
}

/** Where the loop reads and writes. */
export interface DrawLoopBuffers {
  /** The plan's float32 output the tokens are drawn from, `batch` rows of `vocab`. */
  readonly logits: DevicePtr;
  /** The plan's int32 [batch, 1] input each draw is fed into. */
  readonly feed: DevicePtr;
  readonly batch: number;
  readonly vocab: number;
}

/** How many steps to run and how to draw (see `DrawRequest` in the core). */
export interface DrawLoopOptions {
  readonly steps: number;
  readonly temperature: number;
  readonly seed: number;
  readonly firstStep: number;
}

/**
 * Steps enqueued between two looks at the GPU's progress. The host enqueues a chunk while
 * the GPU runs the one before (two chunks in flight at most), so the GPU never waits on the
 * host and the launch queue stays short (4 entries a step).
 */
const CHUNK = 32;

/**
 * Runs `options.steps` session steps back to back on the runtime's stream, each followed
 * by a draw on the GPU (kernels/draw-token.ts) that feeds the next: the host only enqueues,
 * and reads the drawn tokens once at the end. Returns them, [batch, steps] row-major (-1
 * where a row's logits were all NaN). The caller holds the runtime (`exclusive`).
 */
export async function runDrawLoop(
  rt: CudaRuntime,
  step: DrawLoopStep,
  buffers: DrawLoopBuffers,
  options: DrawLoopOptions,
): Promise<Int32Array> {
  const { ctx, stream } = rt;
  const { batch, vocab } = buffers;
  const { steps } = options;
  const scratchBytes = drawScratchBytes(batch);
  const historyOffset = Math.ceil(scratchBytes / 256) * 256;
  const scratch = ctx.allocAsync(historyOffset + batch * steps * 4, stream);
  const events: CudaEvent[] = [];
  try {
    ctx.memsetD32Async(scratch, 0, scratchBytes / 4, stream);
    const fn = rt.kernel(DRAW_TOKEN.source, DRAW_TOKEN.name);
    const launch = {
      grid: [drawTokenBlocks(vocab), batch] as const,
      block: [DRAW_TOKEN_THREADS] as const,
      stream,
    };
    const main = rt.lane(0);
    const cells = scratch;
    const tickets = scratch + BigInt(batch * 8);
    const history = scratch + BigInt(historyOffset);
    // The state goes into the plan once, from step to step within it (outputs to inputs:
    // one copy a step where a session's call makes two) and back once: at 64 streams of the
    // 0.1B model it is 156 MB, so each copy moves 311 MB through memory (about 0.1 ms).
    step.into?.enqueue(main);
    for (let s = 0; s < steps; s++) {
      step.plan();
      (s + 1 < steps ? step.feed : step.back)?.enqueue(main);
      ctx.launchEncoded(
        fn,
        launch,
        encodeKernelArgs([
          { ptr: buffers.logits },
          { i32: vocab },
          { f32: options.temperature },
          { u32: options.seed >>> 0 },
          { u32: (options.firstStep + s) >>> 0 },
          { ptr: cells },
          { ptr: tickets },
          { ptr: buffers.feed },
          { ptr: history },
          { i32: steps },
          { i32: s },
        ]),
      );
      if ((s + 1) % CHUNK === 0 && s + 1 < steps) {
        const e = CudaEvent.create(CU_EVENT_DISABLE_TIMING);
        e.record(stream);
        events.push(e);
        // two chunks in flight: wait for the one before this one
        if (events.length >= 2) await events[events.length - 2]!.done(rt.pollMicros);
      }
    }
    const out = new Int32Array(batch * steps);
    await stream.idle(rt.pollMicros);
    ctx.copyToHost(out, history, stream); // pageable: copied once the stream is idle
    return out;
  } finally {
    ctx.freeAsync(scratch, stream);
    for (const e of events) e.dispose();
  }
}
