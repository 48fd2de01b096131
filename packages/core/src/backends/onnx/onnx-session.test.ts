import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../graph/builder.js';
import { sharedFloat32 } from '../../tensor/shared-floats.js';
import { onnxBackend } from './onnx-backend.js';

describe('onnx session inputs', () => {
  it('takes inputs over shared memory (onnxruntime-node refuses them as they are; they are copied)', async () => {
    // The weight loaders decode into shared memory (tensor/shared-floats.ts), and a caller may
    // feed such an array to a graph: VRWKV's parity tests feed decoded images.
    const b = new GraphBuilder('twice');
    const x = b.input('x', 'float32', ['batch', 3]);
    b.output('y', b.mul(b.add(x, x), x));
    const compiled = await onnxBackend.compile(b.build(), { device: 'cpu' });
    const shared = sharedFloat32(6);
    shared.set([1, -2, 3, 0.5, 4, -1]);
    const y = (await compiled.run({ x: { dtype: 'float32', dims: [2, 3], data: shared } }))['y']!.data;
    expect(Array.from(y)).toEqual([2, 8, 18, 0.5, 32, 2]);
    expect(Array.from(shared)).toEqual([1, -2, 3, 0.5, 4, -1]);
    await compiled.dispose();
  });
});
