import { describe, expect, it } from 'vitest';
import {
  divisionMagic,
  encodeWalk,
  magicDivide,
  walkIndexing,
  walkOffsets,
  walkStruct,
} from './walk-index.js';

describe('walk indexing', () => {
  it('divides every 31-bit numerator exactly by magic numbers (edges and random draws)', () => {
    const divisors = [
      1,
      2,
      3,
      5,
      7,
      64,
      100,
      768,
      2047,
      2048,
      2049,
      3072,
      65536,
      65537,
      2 ** 30 + 1,
      2 ** 31 - 1,
    ];
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let j = 0; j < 200; j++) divisors.push(1 + (rand() % (j < 100 ? 5000 : 2 ** 31 - 1)));
    for (const d of divisors) {
      const m = divisionMagic(d);
      expect(m.magic).toBeGreaterThanOrEqual(0);
      expect(m.magic).toBeLessThan(2 ** 32);
      const ns = [0, 1, d - 1, d, d + 1, 2 * d - 1, 2 ** 31 - 1, 2 ** 31 - 2, 2 ** 30];
      for (let j = 0; j < 50; j++) ns.push(rand());
      for (const n of ns) {
        if (n < 0 || n > 2 ** 31 - 1) continue;
        expect(magicDivide(n, m)).toBe(Math.floor(n / d));
      }
    }
    expect(() => divisionMagic(0)).toThrow(RangeError);
    expect(() => divisionMagic(2 ** 31)).toThrow(RangeError);
  });

  it('picks 32-bit indices while every index and offset fits in 31 bits', () => {
    const dims = [512, 2048];
    expect(
      walkIndexing({
        dims,
        strides: [
          [2048, 1],
          [0, 1],
        ],
      }),
    ).toEqual({ rank: 2, wide: false });
    // an offset that pushes the furthest element past 2^31 - 1
    expect(walkIndexing({ dims, strides: [[2048, 1]] }, [2 ** 31 - 2048 * 512 + 1]).wide).toBe(true);
    expect(walkIndexing({ dims, strides: [[2048, 1]] }, [2 ** 31 - 2048 * 512]).wide).toBe(false);
    // a broadcast read never reaches far, a large strided one does
    expect(walkIndexing({ dims: [2 ** 16, 2 ** 15], strides: [[2 ** 15, 1]] }).wide).toBe(true);
    expect(
      walkIndexing({
        dims: [4, 4],
        strides: [
          [4, 1],
          [2 ** 30, 1],
        ],
      }).wide,
    ).toBe(true);
  });

  it('encodes the struct the kernels declare, field by field', () => {
    const walk = {
      dims: [6, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    };
    const ix = walkIndexing(walk, [0, 8]);
    expect(walkStruct('W', 2, ix)).toBe(
      'struct W { unsigned n; unsigned dims[2]; unsigned magic[2]; unsigned shift[2]; int strides[2][2]; unsigned offsets[2]; };',
    );
    const bytes = encodeWalk(walk, ix, [0, 8]);
    expect(bytes.length).toBe(4 * (1 + 2 + 2 + 2 + 4 + 2));
    const v = new DataView(bytes.buffer);
    const u = (k: number) => v.getUint32(k * 4, true);
    expect(u(0)).toBe(24);
    expect([u(1), u(2)]).toEqual([6, 4]);
    expect([u(3), u(4)]).toEqual([divisionMagic(6).magic, divisionMagic(4).magic]);
    expect([u(5), u(6)]).toEqual([3, 2]);
    expect([u(7), u(8), u(9), u(10)]).toEqual([4, 1, 0, 1]);
    expect([u(11), u(12)]).toEqual([0, 8]);
    const wide = { rank: 2, wide: true };
    expect(encodeWalk(walk, wide, [0, 8]).length).toBe(8 * (1 + 2 + 4 + 2));
    expect(() => encodeWalk(walk, { rank: 3, wide: false })).toThrow(RangeError);
  });

  it('unrolls the offsets per rank: none divides at rank 1, the outermost dim never divides', () => {
    const flat = walkOffsets(2, { rank: 1, wide: false });
    expect(flat).not.toMatch(/umulhi|\//);
    const r3 = walkOffsets(2, { rank: 3, wide: false });
    expect(r3.match(/__umulhi/g)?.length).toBe(2);
    const w3 = walkOffsets(2, { rank: 3, wide: true });
    expect(w3.match(/rem \/ g\.dims/g)?.length).toBe(2);
    expect(w3).toContain('long long off1');
  });
});
