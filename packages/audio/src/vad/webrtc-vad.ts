import fvad from '@echogarden/fvad-wasm';
import { BadInputError, DisposedError } from '@rwkv-streams/core';
import type { FrameVad } from './frame-vad.js';

/** Options of the WebRTC VAD. */
export interface WebRtcVadOptions {
  /** Aggressiveness 0 (least) .. 3 (most likely to call audio non-speech). Default 2. */
  readonly mode?: 0 | 1 | 2 | 3;
  /** Frame length, ms: 10, 20 or 30 (the three WebRTC supports). Default 30. */
  readonly frameMs?: 10 | 20 | 30;
}

interface FvadModule {
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_reset(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, ptr: number, length: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAP16: Int16Array;
}

const RATE = 16000;

/**
 * Google's WebRTC voice-activity detector (libfvad, compiled to WebAssembly by
 * @echogarden/fvad-wasm) as a FrameVad at 16 kHz: float samples are scaled to int16
 * (clamped), buffered into 10/20/30 ms frames, and each frame gets 1 (speech) or 0.
 * The reference the speech issue compares our RWKV VAD with.
 */
export class WebRtcVad implements FrameVad {
  readonly frameSeconds: number;
  private readonly frame: number;
  private readonly buf: Int16Array;
  private fill = 0;
  private disposed = false;

  private constructor(
    private readonly m: FvadModule,
    private readonly inst: number,
    private readonly ptr: number,
    frameMs: number,
  ) {
    this.frameSeconds = frameMs / 1000;
    this.frame = (RATE * frameMs) / 1000;
    this.buf = new Int16Array(this.frame);
  }

  /** Loads the WebAssembly module and makes a detector. */
  static async create(options: WebRtcVadOptions = {}): Promise<WebRtcVad> {
    const mode = options.mode ?? 2;
    const frameMs = options.frameMs ?? 30;
    if (![0, 1, 2, 3].includes(mode))
      throw new BadInputError(`WebRTC VAD mode must be 0, 1, 2 or 3, got ${String(mode)}`, { field: 'mode' });
    if (![10, 20, 30].includes(frameMs))
      throw new BadInputError(`WebRTC VAD frames are 10, 20 or 30 ms, got ${String(frameMs)}`, {
        field: 'frameMs',
      });
    const m = (await fvad()) as FvadModule;
    const inst = m._fvad_new();
    if (!inst || m._fvad_set_mode(inst, mode) !== 0 || m._fvad_set_sample_rate(inst, RATE) !== 0)
      throw new Error('libfvad: could not make a detector');
    return new WebRtcVad(m, inst, m._malloc(((RATE * frameMs) / 1000) * 2), frameMs);
  }

  accept(samples: Float32Array): number[] {
    if (this.disposed) throw new DisposedError('WebRtcVad');
    const out: number[] = [];
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      if (!Number.isFinite(s))
        throw new BadInputError(`sample ${i} of the chunk is not a finite number`, {
          field: 'samples',
          offset: i,
        });
      this.buf[this.fill++] = Math.max(-32768, Math.min(32767, Math.round(s * 32768)));
      if (this.fill === this.frame) {
        this.m.HEAP16.set(this.buf, this.ptr >> 1);
        const r = this.m._fvad_process(this.inst, this.ptr, this.frame);
        if (r < 0) throw new Error('libfvad: frame rejected');
        out.push(r);
        this.fill = 0;
      }
    }
    return out;
  }

  reset(): void {
    this.fill = 0;
    if (!this.disposed) this.m._fvad_reset(this.inst);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.m._free(this.ptr);
    this.m._fvad_free(this.inst);
  }
}
