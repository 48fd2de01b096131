import { ShapeMismatchError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { broadcastStrides, collapse, contiguousStrides, encodeGeometry, MAX_RANK } from './geometry.js';

describe('kernel geometry', () => {
  it('broadcasts right-aligned, size-1 dims read with stride 0', () => {
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(broadcastStrides([4], [2, 3, 4])).toEqual([0, 0, 1]);
    expect(broadcastStrides([3, 1], [2, 3, 4])).toEqual([0, 1, 0]);
    expect(broadcastStrides([2, 3, 4], [2, 3, 4])).toEqual([12, 4, 1]);
    expect(() => broadcastStrides([5], [2, 3, 4])).toThrow(ShapeMismatchError);
    expect(() => broadcastStrides([1, 2, 3, 4], [2, 3, 4])).toThrow(ShapeMismatchError);
  });

  it('collapses dims every operand walks contiguously, and keeps the rest', () => {
    // Same shape everywhere: one dim.
    expect(
      collapse({
        dims: [2, 3, 4],
        strides: [
          [12, 4, 1],
          [12, 4, 1],
        ],
      }),
    ).toEqual({ dims: [24], strides: [[1], [1]] });
    // A trailing-vector operand: [B*T, C] x [C] stays 2D.
    expect(
      collapse({
        dims: [2, 3, 4],
        strides: [
          [12, 4, 1],
          [0, 0, 1],
        ],
      }),
    ).toEqual({
      dims: [6, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    });
    // Size-1 dims vanish; an all-ones space keeps one dim of 1.
    expect(collapse({ dims: [1, 5, 1], strides: [[5, 1, 1]] })).toEqual({ dims: [5], strides: [[1]] });
    expect(collapse({ dims: [1, 1], strides: [[1, 1]] })).toEqual({ dims: [1], strides: [[0]] });
    // A transpose does not collapse.
    expect(
      collapse({
        dims: [3, 4],
        strides: [
          [4, 1],
          [1, 3],
        ],
      }).dims,
    ).toEqual([3, 4]);
  });

  it('refuses iteration spaces it cannot walk', () => {
    const dims = [2, 3, 2, 3, 2, 3, 2];
    const permuted = [1, 2, 6, 12, 36, 72, 216];
    expect(() => collapse({ dims, strides: [contiguousStrides(dims), permuted] })).toThrow(
      new RegExp(`${MAX_RANK}`),
    );
  });

  it('encodes the struct the kernels read: n, dims, strides, offsets, rank', () => {
    const bytes = encodeGeometry(
      {
        dims: [6, 4],
        strides: [
          [4, 1],
          [0, 1],
        ],
      },
      [0, 8],
    );
    const v = new DataView(bytes.buffer);
    const i64 = (k: number) => Number(v.getBigInt64(k * 8, true));
    expect(bytes.length).toBe(8 + 8 * MAX_RANK + 2 * 8 * MAX_RANK + 2 * 8 + 8);
    expect(i64(0)).toBe(24);
    expect([i64(1), i64(2), i64(3)]).toEqual([6, 4, 1]);
    expect([i64(7), i64(8), i64(13), i64(14)]).toEqual([4, 1, 0, 1]);
    expect([i64(19), i64(20)]).toEqual([0, 8]);
    expect(v.getInt32(21 * 8, true)).toBe(2);
  });
});
