import { type ChunkKernel, checkChunkedHead, WKV7_CHUNK, wkv7ChunkCommonSource } from './wkv7-chunked.js';

/**
 * The chunked RWKV-7 WKV with each chunk folded into one affine map of the state.
 *
 * kernels/wkv7-chunked.ts walks the chunks with the in-chunk algebra on the walk's path:
 * per chunk and value row, S_0 A~^T and S_0 R~^T (reductions over the key axis), then
 * U = P (I - B)^-1, then Y and S_L, each waiting for the one before. Substituting U gives
 * the same chunk as an affine map of the state that is fixed before the walk starts:
 *
 *   S_L = S_0 M + V^T Wq,        M  = diag(D_L) + A~^T (I - B)^-1 B^     [N][N]
 *                                Wq = K (I - B)^-1 B^ + K^               [L][N]
 *   Y   = S_0 Rc + V^T Wy,       Rc = R~^T + A~^T (I - B)^-1 BR          [N][L]
 *                                Wy = K (I - B)^-1 BR + KR               [L][L]
 *
 * with B^ = B~ diag(D_L) (b_t scaled by the decay from step t to the chunk's end, at most
 * |b_t|) and K^ = K~ diag(D_L) likewise: every factor is bounded, nothing divides by a decay
 * product at the end. M, Wq, Rc and Wy depend on no state, so a prep kernel computes them
 * for every chunk at once; the walk is then, per chunk, one product of each value row with M
 * (and Rc for the outputs) plus the small V terms: a single phase between two barriers
 * instead of four dependent ones.
 */

/** Floats of one chunk's affine map: M [N][N], Wq [L][N], Rc [N][L], Wy [L][L]. */
export function wkv7AffineFloats(N: number): number {
  const L = WKV7_CHUNK;
  return N * N + 2 * L * N + L * L;
}

/** Rows of the state a scan thread carries (a float4 of the transposed state). */
const ROWS_PER_THREAD = 4;

/** Output columns of the state a scan thread computes (each M value feeds 4 rows). */
export type AffineColumns = 1 | 2 | 4;

/**
 * The columns a scan thread takes by default. `RWKV_STREAMS_CUDA_WKV7_AFFINE_COLUMNS`
 * (1, 2 or 4) overrides it, for measuring.
 */
export function affineColumns(): AffineColumns {
  const forced = Number(process.env['RWKV_STREAMS_CUDA_WKV7_AFFINE_COLUMNS']);
  return forced === 1 || forced === 4 ? forced : 2;
}

/**
 * Prep of the affine chunked WKV-7: one block per (stream, head, chunk), writing that
 * chunk's M, Wq, Rc and Wy (`wkv7AffineFloats(N)` floats) to `prep` ([B, H, chunks, ...]).
 */
export function wkv7AffinePrepKernel(N: number): ChunkKernel {
  checkChunkedHead(N, 1);
  const L = WKV7_CHUNK;
  const name = `rwkv_wkv7_affine_prep_n${N}`;
  // the chunk's prepared vectors (PER), work (6 [L][L] + [L][N]), X1 [L][N], X2 [L][L]
  const floats = 4 * L * N + N + 4 * L * L + 6 * L * L + L * N + L * N + L * L;
  return {
    name,
    threads: 4 * N,
    sharedBytes: floats * 4,
    source: `${wkv7ChunkCommonSource(N, 1)}
#define AFF (N * N + 2 * L * N + L * L)
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ a,
                                   const float* __restrict__ bb, float* __restrict__ prep, int T, int H) {
  extern __shared__ float sh[];
  float* C = sh;
  float* work = C + PER;
  float* X1 = work + 6 * L * L + L * N;   // (I - B)^-1 B^   [L][N]
  float* X2 = X1 + L * N;                 // (I - B)^-1 BR   [L][L]
  const int nC = (T + L - 1) / L, c = blockIdx.x % nC, bh = blockIdx.x / nC;
  const int tid = threadIdx.x;
  prepareChunk(r, w, k, a, bb, bh / H, bh % H, c * L, T, H, C, work);   // ends with a barrier
  const float* A = C; const float* R = A + L * N; const float* Bv = R + L * N; const float* K = Bv + L * N;
  const float* DL = K + L * N; const float* INV = DL + N; const float* Km = INV + L * L;
  const float* BR = Km + L * L; const float* KR = BR + L * L;
  // The products below run in 4-wide tiles (float4 reads of shared memory, 4 or 16 sums a
  // thread): one value a sum was smem-bound, half the prep's time at 32 heads.
  // X1 = (I - B)^-1 B~ diag(D_L) [L][N] (B^ = b~ carried to the chunk's end, at most |b|)
  // and X2 = (I - B)^-1 BR [L][L].
  for (int e = tid; e < L * (N / 4) + L * (L / 4); e += blockDim.x) {
    const bool x1 = e < L * (N / 4);
    const int f = x1 ? e : e - L * (N / 4), W4 = x1 ? N / 4 : L / 4;
    const int s0 = f / W4, c0 = (f % W4) * 4;
    const float* src = x1 ? Bv : BR;
    const int stride = x1 ? N : L;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    #pragma unroll
    for (int u = 0; u < L; u++) {
      const float m = INV[s0 * L + u];
      const float4 x = *reinterpret_cast<const float4*>(src + u * stride + c0);
      acc.x += m * x.x; acc.y += m * x.y; acc.z += m * x.z; acc.w += m * x.w;
    }
    if (x1) {
      const float4 d = *reinterpret_cast<const float4*>(DL + c0);
      acc.x *= d.x; acc.y *= d.y; acc.z *= d.z; acc.w *= d.w;
      *reinterpret_cast<float4*>(X1 + s0 * N + c0) = acc;
    } else {
      *reinterpret_cast<float4*>(X2 + s0 * L + c0) = acc;
    }
  }
  __syncthreads();
  float* out = prep + (long long)blockIdx.x * AFF;
  float* M = out; float* Wq = M + N * N; float* Rc = Wq + L * N; float* Wy = Rc + N * L;
  const int nM = (N / 4) * (N / 4), nQ = L * (N / 4), nR = (N / 4) * L, nY = L * (L / 4);
  for (int e = tid; e < nM + nQ + nR + nY; e += blockDim.x) {
    if (e < nM) {
      // M[j][col] = D_L[j] (j == col) + sum_t a~_t[j] X1[t][col]: a 4 x 4 tile
      const int j0 = (e / (N / 4)) * 4, c0 = (e % (N / 4)) * 4;
      float4 acc[4];
      #pragma unroll
      for (int rr = 0; rr < 4; rr++) acc[rr] = make_float4(0.f, 0.f, 0.f, 0.f);
      if (j0 == c0) {
        acc[0].x = DL[j0]; acc[1].y = DL[j0 + 1]; acc[2].z = DL[j0 + 2]; acc[3].w = DL[j0 + 3];
      }
      #pragma unroll
      for (int t = 0; t < L; t++) {
        const float4 av = *reinterpret_cast<const float4*>(A + t * N + j0);
        const float4 x = *reinterpret_cast<const float4*>(X1 + t * N + c0);
        const float ar[4] = {av.x, av.y, av.z, av.w};
        #pragma unroll
        for (int rr = 0; rr < 4; rr++) {
          acc[rr].x += ar[rr] * x.x; acc[rr].y += ar[rr] * x.y;
          acc[rr].z += ar[rr] * x.z; acc[rr].w += ar[rr] * x.w;
        }
      }
      #pragma unroll
      for (int rr = 0; rr < 4; rr++) *reinterpret_cast<float4*>(M + (j0 + rr) * N + c0) = acc[rr];
    } else if (e < nM + nQ) {
      // Wq[s][col] = K^[s][col] + sum_u K[s][u] X1[u][col] (K^ = k~ carried to the end)
      const int f = e - nM, s0 = f / (N / 4), c0 = (f % (N / 4)) * 4;
      const float4 kv = *reinterpret_cast<const float4*>(K + s0 * N + c0);
      const float4 d = *reinterpret_cast<const float4*>(DL + c0);
      float4 acc = make_float4(kv.x * d.x, kv.y * d.y, kv.z * d.z, kv.w * d.w);
      #pragma unroll
      for (int u = 0; u < L; u++) {
        const float m = Km[s0 * L + u];
        const float4 x = *reinterpret_cast<const float4*>(X1 + u * N + c0);
        acc.x += m * x.x; acc.y += m * x.y; acc.z += m * x.z; acc.w += m * x.w;
      }
      *reinterpret_cast<float4*>(Wq + s0 * N + c0) = acc;
    } else if (e < nM + nQ + nR) {
      // Rc[j][t] = r~_t[j] + sum_s a~_s[j] X2[s][t]: 4 keys j of one step t
      const int f = e - nM - nQ, t = f % L, j0 = (f / L) * 4;
      const float4 rv = *reinterpret_cast<const float4*>(R + t * N + j0);
      float4 acc = rv;
      #pragma unroll
      for (int s0 = 0; s0 < L; s0++) {
        const float4 av = *reinterpret_cast<const float4*>(A + s0 * N + j0);
        const float x = X2[s0 * L + t];
        acc.x += av.x * x; acc.y += av.y * x; acc.z += av.z * x; acc.w += av.w * x;
      }
      Rc[(j0 + 0) * L + t] = acc.x; Rc[(j0 + 1) * L + t] = acc.y;
      Rc[(j0 + 2) * L + t] = acc.z; Rc[(j0 + 3) * L + t] = acc.w;
    } else {
      // Wy[s][t] = KR[s][t] + sum_u K[s][u] X2[u][t]
      const int f = e - nM - nQ - nR, s0 = f / (L / 4), t0 = (f % (L / 4)) * 4;
      float4 acc = *reinterpret_cast<const float4*>(KR + s0 * L + t0);
      #pragma unroll
      for (int u = 0; u < L; u++) {
        const float m = Km[s0 * L + u];
        const float4 x = *reinterpret_cast<const float4*>(X2 + u * L + t0);
        acc.x += m * x.x; acc.y += m * x.y; acc.z += m * x.z; acc.w += m * x.w;
      }
      *reinterpret_cast<float4*>(Wy + s0 * L + t0) = acc;
    }
  }
}
`,
  };
}

/**
 * Buffers of chunk maps a scan block holds, a ring filled by `cp.async` (sm_80 on; plain
 * copies before): chunks c + 1 .. c + stages - 1 load while chunk c computes.
 */
export type AffineStages = 2 | 3;

/**
 * The default buffers: 3. On an H100 (2026-12-06, 2 columns x 2 lanes) 12 heads ran 74.7 µs
 * a call with the next chunk staged in registers (the first form, since removed) and 67.2 with
 * 3 buffers; 32 heads 122.7 and 116.7. `RWKV_STREAMS_CUDA_WKV7_AFFINE_STAGES` (2 or 3) overrides it.
 */
export function affineStages(): AffineStages {
  const forced = Number(process.env['RWKV_STREAMS_CUDA_WKV7_AFFINE_STAGES']);
  return forced === 2 ? 2 : 3;
}

/** Lanes that share a unit of the walk, each summing every `split`-th key. */
export type AffineSplit = 1 | 2 | 4;

/** Units of work of a scan block: 4 rows x `cols` state columns, and 4 rows x 1 output step. */
function scanUnits(N: number, groups: number, cols: AffineColumns): number {
  const R = N / groups;
  return (N / cols) * (R / ROWS_PER_THREAD) + (R / ROWS_PER_THREAD) * WKV7_CHUNK;
}

/**
 * Lanes a unit by default: 2, or 1 where 2 would take more than 1024 threads. More warps
 * shorten each one's long sums, up to a point: on an H100 (cuda-wkv7, 2026-12-06, 2 columns
 * and 3 map buffers) 12 heads ran 76.0 / 67.2 / 83.2 µs with 1 / 2 / 4 lanes, 32 heads 131.7 /
 * 116.7 / 167.4. `RWKV_STREAMS_CUDA_WKV7_AFFINE_SPLIT` (1, 2 or 4) overrides it.
 */
export function affineSplit(N: number, groups: number, cols: AffineColumns): AffineSplit {
  const forced = Number(process.env['RWKV_STREAMS_CUDA_WKV7_AFFINE_SPLIT']);
  if (forced === 1 || forced === 2 || forced === 4) return forced;
  const units = scanUnits(N, groups, cols);
  return units * 2 <= 1024 ? 2 : 1;
}

/**
 * Threads of a scan block for head size N split over `groups` blocks, `cols` state columns a
 * unit, `split` lanes a unit: a multiple of 32 from 64 (enough to issue a chunk's copies
 * quickly) to 1024 (more units than that loop).
 */
export function wkv7AffineScanThreads(
  N: number,
  groups: number,
  cols: AffineColumns,
  split: AffineSplit = 1,
): number {
  return Math.min(1024, Math.max(64, Math.ceil((scanUnits(N, groups, cols) * split) / 32) * 32));
}

/**
 * The walk of the affine chunked WKV-7: one block per (stream, head, group of value rows);
 * per chunk, S <- S M + V^T Wq and Y = S Rc + V^T Wy for the block's rows. The state sits in
 * shared memory transposed (ST[j][row]), twice (the chunk's old and new state), so a thread
 * reads four rows of a key column as one float4 and multiplies them by `cols` values of M
 * read once. The next chunks' maps stream into a ring of `stages` buffers meanwhile.
 */
export function wkv7AffineScanKernel(
  N: number,
  groups: 1 | 2 | 4 | 8,
  cols: AffineColumns = 2,
  split: AffineSplit = affineSplit(N, groups, cols),
  stages: AffineStages = affineStages(),
): ChunkKernel {
  checkChunkedHead(N, groups);
  if (N % (cols * 4) !== 0)
    throw new RangeError(`wkv7 affine scan: head size ${N} and ${cols} columns a thread`);
  const L = WKV7_CHUNK;
  const R = N / groups;
  const stateUnits = (N / cols) * (R / ROWS_PER_THREAD);
  const outputUnits = (R / ROWS_PER_THREAD) * L;
  const threads = wkv7AffineScanThreads(N, groups, cols, split);
  const name = `rwkv_wkv7_affine_scan_n${N}_g${groups}_c${cols}_s${split}_st${stages}`;
  const aff = wkv7AffineFloats(N);
  return {
    name,
    threads,
    // `stages` x (the map, V^T of the block's rows [L][R]), the state twice [N][R + 4]
    sharedBytes: (stages * (aff + L * R) + 2 * N * (R + 4)) * 4,
    source: `
#define N ${N}
#define L ${L}
#define R ${R}
#define RS (R + 4)   // a state column's stride: float4 stores of neighbouring columns in other banks
#define G ${groups}
#define COLS ${cols}
#define AFF ${aff}
#define SU ${stateUnits}
#define YU ${outputUnits}
#define SPLIT ${split}
#define STAGES ${stages}
#define STAGE (AFF + L * R)
__device__ __forceinline__ void copyAsync16(void* dst, const void* src, bool fill) {
#if __CUDA_ARCH__ >= 800
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "r"(fill ? 16 : 0));
#else
  *reinterpret_cast<float4*>(dst) = fill ? *reinterpret_cast<const float4*>(src) : make_float4(0.f, 0.f, 0.f, 0.f);
#endif
}
__device__ __forceinline__ void commitAsync() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::);
#endif
}
template <int n> __device__ __forceinline__ void waitAsync() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;" ::"n"(n));
#endif
}
// COLS neighbouring floats of shared memory in one load (col0 is a multiple of COLS).
// acc[r][c] += rows.r * m[c] for the 4 rows of 'rows' and the first C of the COLS columns: the
// one product of the scan, for state units (C = COLS columns of M or Wq) and output units
// (C = 1: one step of Rc or Wy).
template <int C>
__device__ __forceinline__ void accumulate4(float (&acc)[4][COLS], const float4 rows, const float (&m)[C]) {
  #pragma unroll
  for (int cc = 0; cc < C; cc++) {
    acc[0][cc] += rows.x * m[cc]; acc[1][cc] += rows.y * m[cc];
    acc[2][cc] += rows.z * m[cc]; acc[3][cc] += rows.w * m[cc];
  }
}
__device__ __forceinline__ void loadColumns(float (&m)[COLS], const float* p) {
#if COLS == 4
  const float4 x = *reinterpret_cast<const float4*>(p);
  m[0] = x.x; m[1] = x.y; m[2] = x.z; m[3] = x.w;
#elif COLS == 2
  const float2 x = *reinterpret_cast<const float2*>(p);
  m[0] = x.x; m[1] = x.y;
#else
  m[0] = *p;
#endif
}
extern "C" __global__ void __launch_bounds__(${threads}) ${name}(const float* __restrict__ prep, const float* __restrict__ v,
                                   const float* s_in, float* __restrict__ y, float* s_out, int T, int H) {
  extern __shared__ float4 sh4[];
  float* sh = reinterpret_cast<float*>(sh4);
  // STAGES x (the map: M [N][N], Wq [L][N], Rc [N][L], Wy [L][L]; VS [L][R]: v of the
  // block's rows), then the state twice, transposed: [N][RS]
  float* ST0 = sh + STAGES * STAGE;
  float* ST1 = ST0 + N * RS;
  const int tid = threadIdx.x;
  const int bh = blockIdx.x / G, h = bh % H, row0 = (blockIdx.x % G) * R;
  const long long b = bh / H;
  const int nC = (T + L - 1) / L;
  const float4* map4 = reinterpret_cast<const float4*>(prep) + (long long)bh * nC * (AFF / 4);
  for (int e = tid; e < R * N; e += blockDim.x) {   // coalesced over the key axis
    const int i = e / N, j = e % N;
    ST0[j * RS + i] = s_in[((long long)bh * N + row0 + i) * N + j];
  }
  // a ring of STAGES buffers filled by cp.async: chunks c + 1 .. c + STAGES - 1 in flight
  // while chunk c computes (no registers held for them)
  auto load = [&](int c) {
    if (c < nC) {
      float4* dst = sh4 + (c % STAGES) * (STAGE / 4);
      const float4* src = map4 + (long long)c * (AFF / 4);
      for (int e = tid; e < AFF / 4; e += blockDim.x) copyAsync16(dst + e, src + e, true);
      for (int e = tid; e < L * R / 4; e += blockDim.x) {
        const int t = e / (R / 4), i4 = e % (R / 4);
        const bool in = c * L + t < T;
        const float* from = in ? v + ((b * T + c * L + t) * H + h) * N + row0 + 4 * i4 : v;
        copyAsync16(dst + AFF / 4 + e, from, in);
      }
    }
    commitAsync();   // an empty group past the end keeps the count of groups uniform
  };
  #pragma unroll
  for (int c = 0; c < STAGES - 1; c++) load(c);
  float* old = ST0;
  float* next = ST1;
  for (int c = 0; c < nC; c++) {
    waitAsync<STAGES - 2>();   // chunk c's group has landed (for this thread's copies)
    __syncthreads();           // ... and everyone's; the buffer of chunk c - 1 is free
    load(c + STAGES - 1);
    float* M = sh + (c % STAGES) * STAGE;
    const float* Wq = M + N * N;
    const float* Rc = Wq + L * N;
    const float* Wy = Rc + N * L;
    const float* VS = Wy + L * L;
    // Units of work: SU of state (4 rows x COLS columns of S_L = S_0 M + V^T Wq), then YU
    // of outputs (4 rows x 1 step of Y = S_0 Rc + V^T Wy); both read only the old state.
    // SPLIT neighbouring lanes share a unit, each summing every SPLIT-th key (and step),
    // then add their sums with shuffles: every lane of a warp runs the same iterations.
    const int Lc = min(L, T - c * L);
    for (int base = 0; base < (SU + YU) * SPLIT; base += blockDim.x) {
      const int e = (base + tid) / SPLIT, part = (base + tid) % SPLIT;
      const bool live = e < SU + YU;
      float acc[4][COLS];
      #pragma unroll
      for (int rr = 0; rr < 4; rr++)
        #pragma unroll
        for (int cc = 0; cc < COLS; cc++) acc[rr][cc] = 0.f;
      const bool isState = e < SU;
      const int col0 = (e % (N / COLS)) * COLS, q = (e / (N / COLS)) * 4;    // a state unit
      const int t = (e - SU) % L, i = ((e - SU) / L) * 4;                    // an output unit
      if (live && isState) {
        #pragma unroll 8
        for (int j = part; j < N; j += SPLIT) {
          float mv[COLS];
          loadColumns(mv, M + j * N + col0);
          accumulate4(acc, *reinterpret_cast<const float4*>(old + j * RS + q), mv);
        }
        #pragma unroll
        for (int s0 = part; s0 < L; s0 += SPLIT) {
          float mv[COLS];
          loadColumns(mv, Wq + s0 * N + col0);
          accumulate4(acc, *reinterpret_cast<const float4*>(VS + s0 * R + q), mv);
        }
      } else if (live) {
        #pragma unroll 8
        for (int j = part; j < N; j += SPLIT) {
          const float m[1] = {Rc[j * L + t]};
          accumulate4(acc, *reinterpret_cast<const float4*>(old + j * RS + i), m);
        }
        #pragma unroll
        for (int s0 = part; s0 < L; s0 += SPLIT) {
          const float m[1] = {Wy[s0 * L + t]};
          accumulate4(acc, *reinterpret_cast<const float4*>(VS + s0 * R + i), m);
        }
      }
      #pragma unroll
      for (int off = 1; off < SPLIT; off <<= 1)
        #pragma unroll
        for (int rr = 0; rr < 4; rr++)
          #pragma unroll
          for (int cc = 0; cc < COLS; cc++) acc[rr][cc] += __shfl_xor_sync(0xffffffffu, acc[rr][cc], off);
      if (live && part == 0) {
        if (isState) {
          #pragma unroll
          for (int cc = 0; cc < COLS; cc++)
            *reinterpret_cast<float4*>(next + (col0 + cc) * RS + q) =
              make_float4(acc[0][cc], acc[1][cc], acc[2][cc], acc[3][cc]);
        } else if (t < Lc) {
          float* dst = y + ((b * T + c * L + t) * H + h) * N + row0 + i;
          dst[0] = acc[0][0]; dst[1] = acc[1][0]; dst[2] = acc[2][0]; dst[3] = acc[3][0];
        }
      }
    }
    __syncthreads();
    float* tmp = old; old = next; next = tmp;
  }
  for (int e = tid; e < R * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    s_out[((long long)bh * N + row0 + i) * N + j] = old[j * RS + i];
  }
}
`,
  };
}
