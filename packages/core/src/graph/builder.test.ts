import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '../errors.js';
import { hostTensor } from '../tensor/host-tensor.js';
import { GraphBuilder } from './builder.js';

describe('GraphBuilder shape inference', () => {
  it('infers broadcast, linear, reshape and slice shapes with symbolic dims', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 'time', 8]);
    const w = b.weight('w', hostTensor([4, 8], new Float32Array(32)));
    const y = b.linear(x, w);
    expect(y.shape).toEqual(['batch', 'time', 4]);
    expect(b.add(y, b.scalar(1)).shape).toEqual(['batch', 'time', 4]);
    expect(b.reshape(y, ['batch', 'time', 2, 2]).shape).toEqual(['batch', 'time', 2, 2]);
    expect(b.slice(y, 1, -1, 2 ** 31 - 1, 1).shape).toEqual(['batch', 1, 4]);
    b.output('y', y);
    const g = b.build();
    expect(g.outputs.map((o) => o.name)).toEqual(['y']);
    expect(g.initializers.size).toBe(2);
  });

  it('names the values when shapes do not fit', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 8]);
    const w = b.weight('w', hostTensor([4, 7], new Float32Array(28)));
    expect(() => b.linear(x, w)).toThrow(ShapeMismatchError);
    expect(() => b.linear(x, w)).toThrow(/x\[batch, 8\] and w\[4, 7\]/);
    expect(() => b.add(x, b.input('z', 'float32', [3]))).toThrow(/cannot broadcast/);
    expect(() => b.input('x', 'float32', [1])).toThrow(/used twice/);
  });
});
