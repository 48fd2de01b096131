import { BadInputError, GraphBuilder, hostTensor } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { recordingRuntime } from '../../../test-support/recording-runtime.js';
import type { GemmSpec } from '../../driver/cublas.js';
import type { Lane } from '../../runtime.js';
import type { Buf } from './context.js';
import { lowerLinear } from './gemm.js';

/** A Linear of 64 rows (past our GEMV: cuBLAS runs it) lowered against the given buffer types. */
function lowered(xType: Buf['type'], wType: Buf['type'], yType: Buf['type']) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [64, 32]);
  const y = b.linear(x, b.weight('w', hostTensor([16, 32], new Float32Array(16 * 32))));
  b.output('y', y);
  const node = b.build().nodes.find((n) => n.op === 'Linear')!;
  const bufs = new Map<string, Buf>([
    [x.name, { ptr: 0x1000n, dims: [64, 32], type: xType }],
    ['w', { ptr: 0x2000n, dims: [16, 32], type: wType }],
    [y.name, { ptr: 0x3000n, dims: [64, 16], type: yType }],
  ]);
  const rr = recordingRuntime(bufs, new Map([...bufs].map(([k, v]) => [k, v.dims])));
  const steps = lowerLinear(rr.ctx, node);
  const gemms: GemmSpec[] = [];
  const lane = { stream: {}, blas: { gemm: (g: GemmSpec) => gemms.push(g) } } as unknown as Lane;
  for (const s of steps) s.enqueue(lane);
  return { steps, gemms, launches: rr.launches };
}

describe('Linear through cuBLAS', () => {
  it('stores a product in half precision when the plan asks (no cast: input and output half)', () => {
    const { steps, gemms, launches } = lowered('f16', 'f16', 'f16');
    expect(steps).toHaveLength(1);
    expect(launches).toHaveLength(0);
    expect(gemms).toHaveLength(1);
    expect(gemms[0]).toMatchObject({
      aType: 'f16',
      bType: 'f16',
      cType: 'f16',
      c: 0x3000n,
      m: 16,
      n: 64,
      k: 32,
    });
  });

  it('casts a float32 input for half weights and stores float32 by default', () => {
    const { steps, gemms, launches } = lowered('f32', 'bf16', 'f32');
    expect(steps).toHaveLength(2);
    expect(launches).toHaveLength(1); // the cast kernel
    expect(gemms[0]).toMatchObject({ aType: 'bf16', bType: 'bf16', cType: 'f32' });
  });

  it('rejects a half output of another type than its weights', () => {
    expect(() => lowered('f16', 'f16', 'bf16')).toThrow(BadInputError);
    expect(() => lowered('f32', 'f32', 'f16')).toThrow(/is f16, its weights f32/);
  });
});
