import { BadInputError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { chooseGemvTiling, GEMV_WIDE_BYTES, gemvColumnsFromEnv, gemvLoadsFromEnv } from './gemv-tiling.js';

/** Runs `f` with an environment variable set, restoring it afterwards. */
function withEnv<T>(name: string, value: string, f: () => T): T {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

describe('decode GEMV tiling', () => {
  it('takes 4 columns with 2 loads from a 2048 x 2048 matrix up, else 2 columns with 4 loads', () => {
    expect(GEMV_WIDE_BYTES).toBe(2048 * 2048 * 2);
    expect(chooseGemvTiling([[2048, 2048]])).toEqual({ columns: 4, loadsInFlight: 2 });
    expect(chooseGemvTiling([[2048, 8192]])).toEqual({ columns: 4, loadsInFlight: 2 });
    // a group is tiled by its largest matrix (the LoRA ends of a 1.5B layer ride with the wide ones)
    expect(
      chooseGemvTiling([
        [64, 2048],
        [2048, 2048],
      ]),
    ).toEqual({ columns: 4, loadsInFlight: 2 });
    expect(chooseGemvTiling([[768, 768]])).toEqual({ columns: 2, loadsInFlight: 4 });
    expect(
      chooseGemvTiling([
        [3072, 768],
        [64, 768],
      ]),
    ).toEqual({ columns: 2, loadsInFlight: 4 });
    expect(chooseGemvTiling([[2047, 2048]])).toEqual({ columns: 2, loadsInFlight: 4 });
  });

  it('keeps what a plan asks for and fills in only the rest', () => {
    expect(chooseGemvTiling([[2048, 2048]], { columns: 1 })).toEqual({ columns: 1, loadsInFlight: 4 });
    expect(chooseGemvTiling([[2048, 2048]], { loadsInFlight: 8 })).toEqual({ columns: 4, loadsInFlight: 8 });
    expect(chooseGemvTiling([[768, 768]], { columns: 4 })).toEqual({ columns: 4, loadsInFlight: 4 });
    expect(chooseGemvTiling([[768, 768]], { columns: 1, loadsInFlight: 2 })).toEqual({
      columns: 1,
      loadsInFlight: 2,
    });
  });

  it('reads RWKV_STREAMS_CUDA_GEMV_COLUMNS and _LOADS, naming a bad value', () => {
    expect(withEnv('RWKV_STREAMS_CUDA_GEMV_COLUMNS', 'auto', gemvColumnsFromEnv)).toBeUndefined();
    expect(withEnv('RWKV_STREAMS_CUDA_GEMV_COLUMNS', '4', gemvColumnsFromEnv)).toBe(4);
    expect(() => withEnv('RWKV_STREAMS_CUDA_GEMV_COLUMNS', '8', gemvColumnsFromEnv)).toThrow(BadInputError);
    expect(withEnv('RWKV_STREAMS_CUDA_GEMV_LOADS', '', gemvLoadsFromEnv)).toBeUndefined();
    expect(withEnv('RWKV_STREAMS_CUDA_GEMV_LOADS', '2', gemvLoadsFromEnv)).toBe(2);
    for (const bad of ['0', '17', '2.5', 'many'])
      expect(() => withEnv('RWKV_STREAMS_CUDA_GEMV_LOADS', bad, gemvLoadsFromEnv)).toThrow(
        new RegExp(
          `RWKV_STREAMS_CUDA_GEMV_LOADS must be 1\\.\\.16 or auto, not '${bad.replace('.', '\\.')}'`,
        ),
      );
  });
});
