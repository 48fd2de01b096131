import { BadInputError, type HostTensor, hostTensor } from '@rwkv-streams/core';

/** Cubic convolution weight (Keys, a = -0.75: what PyTorch's bicubic uses). */
function cubic(x: number): number {
  const a = -0.75;
  const t = Math.abs(x);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/** Interpolation taps of one output index: 4 source indices (clamped) and weights. */
function taps(out: number, inSize: number, outSize: number): { idx: number[]; w: number[] } {
  const src = (out + 0.5) * (inSize / outSize) - 0.5; // align_corners = False
  const i0 = Math.floor(src);
  const t = src - i0;
  const idx: number[] = [];
  const w: number[] = [];
  for (let k = -1; k <= 2; k++) {
    idx.push(Math.min(Math.max(i0 + k, 0), inSize - 1));
    w.push(cubic(k - t));
  }
  return { idx, w };
}

/**
 * Resizes a position embedding [1, h*w, C] trained on an h x w patch grid to another grid,
 * bicubically as the official code does (mmcls `resize_pos_embed`: F.interpolate,
 * mode 'bicubic', align_corners False), computed in float64.
 */
export function resizePosEmbed(
  pos: HostTensor,
  from: readonly [number, number],
  to: readonly [number, number],
): HostTensor {
  const [h, w] = from;
  const [H, W] = to;
  const C = pos.shape[pos.shape.length - 1]!;
  if (pos.data.length !== h * w * C)
    throw new BadInputError(
      `pos_embed has ${pos.data.length / C} positions, the grid ${h}x${w} needs ${h * w}`,
      {
        field: 'pos_embed',
      },
    );
  if (h === H && w === W) return pos;
  const out = new Float32Array(H * W * C);
  const ty = Array.from({ length: H }, (_, y) => taps(y, h, H));
  const tx = Array.from({ length: W }, (_, x) => taps(x, w, W));
  const acc = new Float64Array(C);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      acc.fill(0);
      for (let a = 0; a < 4; a++)
        for (let bb = 0; bb < 4; bb++) {
          const wt = ty[y]!.w[a]! * tx[x]!.w[bb]!;
          const base = (ty[y]!.idx[a]! * w + tx[x]!.idx[bb]!) * C;
          for (let c = 0; c < C; c++) acc[c]! += wt * pos.data[base + c]!;
        }
      out.set(acc, (y * W + x) * C);
    }
  return hostTensor([1, H * W, C], out);
}
