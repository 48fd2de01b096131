/** Steps per chunk of the chunked RWKV-7 kernel (the in-chunk inverse below is exact for 16). */
export const WKV7_CHUNK = 16;

/** Largest head size the chunked kernel is compiled for (4 threads a value row, 42 KB shared). */
export const WKV7_CHUNKED_MAX_HEAD = 64;

/** Floats one chunk's prepared data takes (see `wkv7ChunkPrepKernel`). */
export function wkv7ChunkFloats(N: number): number {
  const L = WKV7_CHUNK;
  return 4 * L * N + N + 4 * L * L;
}

/**
 * CUDA C shared by the chunked kernels: the chunk's row-free preparation (steps 1-4:
 * normalized vectors, D_L, B, K, BR, KR and (I - B)^-1) and the advance of one value row
 * (step 5). `C` points at one chunk's prepared data laid out as
 *   [a~ | r~ | b~ | k~]: [L][N] each, D_L [N], (I - B)^-1, K, BR, KR: [L][L] each,
 * which is also the prep kernel's output layout.
 */
export function wkv7ChunkCommonSource(N: number, groups: number): string {
  return `
#define N ${N}
#define L ${WKV7_CHUNK}
#define G ${groups}
#define TPR (4 * G)
#define CPT (N / TPR)
#define LP (L + 1)
#define PER (4 * L * N + N + 4 * L * L)

// out = (x + I?) (y + I?) for [L][L] matrices; every thread of the block takes entries.
__device__ __forceinline__ void mm16(float* out, const float* x, const float* y, bool xi, bool yi) {
  for (int e = threadIdx.x; e < L * L; e += blockDim.x) {
    const int s = e / L, t = e % L;
    float acc = 0.f;
    #pragma unroll
    for (int u = 0; u < L; u++) {
      const float xv = x[s * L + u] + (xi && s == u ? 1.f : 0.f);
      const float yv = y[u * L + t] + (yi && u == t ? 1.f : 0.f);
      acc += xv * yv;
    }
    out[e] = acc;
  }
}

// Steps 1-4 for the chunk of stream b, head h starting at step c0. C: PER floats of shared
// memory (the layout above); work: 6 [L][L] + [L][N] floats of shared scratch.
__device__ void prepareChunk(const float* __restrict__ r, const float* __restrict__ w,
                             const float* __restrict__ k, const float* __restrict__ a,
                             const float* __restrict__ bb, long long b, int h, int c0, int T, int H,
                             float* C, float* work) {
  float* A = C; float* R = A + L * N; float* Bv = R + L * N; float* K = Bv + L * N;
  float* DL = K + L * N; float* INV = DL + N; float* Km = INV + L * L; float* BR = Km + L * L;
  float* KR = BR + L * L;
  float* Bm = work; float* B2 = Bm + L * L; float* B4 = B2 + L * L; float* B8 = B4 + L * L;
  float* M1 = B8 + L * L; float* M2 = M1 + L * L; float* W = M2 + L * L;
  const int tid = threadIdx.x, Lc = min(L, T - c0);
  // 1. The chunk's vectors; padding steps (w = 1, the rest 0) leave the state as it is.
  for (int e = tid; e < L * N; e += blockDim.x) {
    const int t = e / N, j = e % N;
    if (t < Lc) {
      const long long g = ((b * T + c0 + t) * H + h) * N + j;
      R[e] = r[g]; W[e] = w[g]; K[e] = k[g]; A[e] = a[g]; Bv[e] = bb[g];
    } else {
      R[e] = 0.f; W[e] = 1.f; K[e] = 0.f; A[e] = 0.f; Bv[e] = 0.f;
    }
  }
  __syncthreads();
  // 2. Cumulative decays per key column and the normalized vectors.
  for (int j = tid; j < N; j += blockDim.x) {
    float d = 1.f;
    for (int t = 0; t < L; t++) {
      const int e = t * N + j;
      A[e] *= d;            // a~ uses D_{t-1}
      d *= W[e];
      const float inv = 1.f / d;
      Bv[e] *= inv; K[e] *= inv; R[e] *= d;
    }
    DL[j] = d;
  }
  __syncthreads();
  // 3. In-chunk interactions. A warp holds 16 t's of rows N floats apart: walked in the
  // same column order they would all read one shared-memory bank (16-way conflicts), so
  // each t starts at its own column (at most 2-way: the warp's two s0 rows).
  for (int e = tid; e < L * L; e += blockDim.x) {
    const int s0 = e / L, t = e % L;
    float bm = 0.f, km = 0.f, br = 0.f, kr = 0.f;
    if (s0 <= t) {
      #pragma unroll 8
      for (int jj = 0; jj < N; jj++) {
        const int j = (jj + t) % N;
        const float bs = Bv[s0 * N + j], ks = K[s0 * N + j], at = A[t * N + j], rt = R[t * N + j];
        bm += bs * at; km += ks * at; br += bs * rt; kr += ks * rt;
      }
    }
    Bm[e] = s0 < t ? bm : 0.f;
    Km[e] = s0 < t ? km : 0.f;
    BR[e] = br;
    KR[e] = kr;
  }
  __syncthreads();
  // 4. (I - B)^-1 = (I + B)(I + B^2)(I + B^4)(I + B^8).
  mm16(B2, Bm, Bm, false, false);
  __syncthreads();
  mm16(B4, B2, B2, false, false);
  mm16(M1, Bm, B2, true, true);
  __syncthreads();
  mm16(B8, B4, B4, false, false);
  mm16(M2, M1, B4, false, true);
  __syncthreads();
  mm16(INV, M2, B8, false, true);
  __syncthreads();
}

// Step 5 for value row i, this lane's key columns s[jj] = S[i][TPR jj + p]: stages the
// chunk's outputs y[t] of row i in Y[i][t] and advances s to the chunk's end. V: [L][N];
// P, Y: [N][LP] (Y may be P). Lanes of a row are neighbours in one warp.
__device__ __forceinline__ void advanceRow(const float* C, const float* V, float* P, float* U, float* Y,
                                           int i, int p, float (&s)[CPT]) {
  const float* A = C; const float* R = A + L * N; const float* Bv = R + L * N; const float* K = Bv + L * N;
  const float* DL = K + L * N; const float* INV = DL + N; const float* Km = INV + L * L;
  const float* BR = Km + L * L; const float* KR = BR + L * L;
  // S_0 a~ and S_0 r~ over this lane's key columns, reduced over the row's lanes.
  float sa[L], sr[L];
  #pragma unroll
  for (int t = 0; t < L; t++) {
    float x0 = 0.f, x1 = 0.f;
    #pragma unroll
    for (int jj = 0; jj < CPT; jj++) {
      x0 += s[jj] * A[t * N + TPR * jj + p];
      x1 += s[jj] * R[t * N + TPR * jj + p];
    }
    #pragma unroll
    for (int off = 1; off < TPR; off <<= 1) {
      x0 += __shfl_xor_sync(0xffffffffu, x0, off);
      x1 += __shfl_xor_sync(0xffffffffu, x1, off);
    }
    sa[t] = x0; sr[t] = x1;
  }
  // P = S_0 A~^T + V^T K; lane p takes entries t = p, p + TPR, ... of row i.
  #pragma unroll
  for (int t = p; t < L; t += TPR) {
    float acc = sa[t];
    #pragma unroll
    for (int s0 = 0; s0 < L; s0++) acc += V[s0 * N + i] * Km[s0 * L + t];
    P[i * LP + t] = acc;
  }
  __syncwarp();
  // U = P (I - B)^-1
  #pragma unroll
  for (int t = p; t < L; t += TPR) {
    float acc = 0.f;
    #pragma unroll
    for (int s0 = 0; s0 < L; s0++) acc += P[i * LP + s0] * INV[s0 * L + t];
    U[i * LP + t] = acc;
  }
  __syncwarp();
  // Y = S_0 R~^T + U BR + V^T KR
  #pragma unroll
  for (int t = p; t < L; t += TPR) {
    float acc = sr[t];
    #pragma unroll
    for (int s0 = 0; s0 < L; s0++) acc += U[i * LP + s0] * BR[s0 * L + t] + V[s0 * N + i] * KR[s0 * L + t];
    Y[i * LP + t] = acc;
  }
  // S_L = (S_0 + U B~ + V^T K~) diag(D_L)
  #pragma unroll
  for (int jj = 0; jj < CPT; jj++) {
    const int j = TPR * jj + p;
    float acc = s[jj];
    #pragma unroll
    for (int t = 0; t < L; t++) acc += U[i * LP + t] * Bv[t * N + j] + V[t * N + i] * K[t * N + j];
    s[jj] = acc * DL[j];
  }
}

// Coalesced output of rows row0 .. row0 + N/G - 1 of a chunk staged in Y[i][t].
__device__ __forceinline__ void writeRows(float* __restrict__ y, const float* Y, long long b, int h, int c0,
                                          int T, int H, int row0) {
  const int Lc = min(L, T - c0);
  for (int e = threadIdx.x; e < Lc * (N / G); e += blockDim.x) {
    const int t = e / (N / G), ii = row0 + e % (N / G);
    y[((b * T + c0 + t) * H + h) * N + ii] = Y[ii * LP + t];
  }
}
`;
}

/** Throws unless the chunked kernels are built for head size N split over `groups` blocks. */
export function checkChunkedHead(N: number, groups: number): void {
  if (N % 4 !== 0 || N > WKV7_CHUNKED_MAX_HEAD || (N / 4) % groups !== 0)
    throw new RangeError(
      `wkv7 chunked kernels: head size ${N} must be a multiple of 4 x ${groups} groups, at most 64`,
    );
}

/** A compiled-at-run-time kernel: source, entry point, block size and dynamic shared bytes. */
export interface ChunkKernel {
  readonly source: string;
  readonly name: string;
  readonly threads: number;
  readonly sharedBytes: number;
}

/**
 * RWKV-7 WKV over a sequence in chunks of L = 16 steps (the core's `Wkv7` op; same inputs,
 * outputs and function as kernels/wkv7.ts). The step kernel walks T steps one after the
 * other, each a barrier and a few hundred dependent FMAs per thread: at batch 1 that walk
 * was half of a 512-token prefill (packages/cuda/gpu-runs/2026-11-23-h100-profile.md).
 * Here the walk is T / 16 chunks long and each chunk is small matrix products.
 *
 * Per chunk, with cumulative decays D_t = w_1 ... w_t (per key column) and the normalized
 * state S^_t = S_t / D_t, the update is additive (the same algebra as the ONNX lowering's
 * expand/wkv7-chunked.ts):
 *   a~_t = a_t D_{t-1},  b~_t = b_t / D_t,  k~_t = k_t / D_t,  r~_t = r_t D_t
 *   B[s,t] = b~_s . a~_t (s < t),  K[s,t] = k~_s . a~_t (s < t)
 *   BR[s,t] = b~_s . r~_t (s <= t), KR[s,t] = k~_s . r~_t (s <= t)
 *   U = (S_0 A~^T + V^T K) (I - B)^-1,   (I - B)^-1 = (I + B)(I + B^2)(I + B^4)(I + B^8)
 *   Y = S_0 R~^T + U BR + V^T KR,         S_L = (S_0 + U B~ + V^T K~) diag(D_L)
 * B is strictly upper triangular, so B^16 = 0 and the product of four factors is the exact
 * inverse. RWKV-7 decays are >= exp(-exp(-0.5)) = 0.545, so 1 / D stays below 1.6e4 over
 * a chunk: safe in float32.
 *
 * Value rows of the state evolve independently, so a head's rows are split over `groups`
 * blocks (1, 2, 4 or 8): at batch 1 a model has only a dozen heads, and one block per head
 * would leave most of the GPU idle (each block then repeats the chunk's small row-free
 * products, which is cheap next to the rows' work). A block has 4N threads, TPR = 4 x
 * groups of them per value row; lane p of a row holds s[i][p + TPR jj] in registers
 * (interleaved columns: neighbouring lanes read neighbouring words, no bank conflicts).
 * Row sums over the key axis are each lane's partial sums reduced with warp shuffles.
 * Steps past T (the last chunk's padding) have w = 1 and everything else 0: they change
 * nothing.
 *
 * This one kernel does everything, chunk after chunk; with few heads the two-kernel form
 * (`wkv7ChunkPrepKernel` for every chunk at once, then `wkv7ChunkScanKernel`) is faster,
 * as the row-free steps then run in parallel over chunks instead of on the walk's path.
 */
export function wkv7ChunkedKernel(N: number, groups: 1 | 2 | 4 | 8 = 1): ChunkKernel {
  checkChunkedHead(N, groups);
  const L = WKV7_CHUNK;
  const name = `rwkv_wkv7_chunked_n${N}_g${groups}`;
  // the chunk (PER), V [L][N], work (6 [L][L] + [L][N]), P and U [N][L + 1]
  const floats = wkv7ChunkFloats(N) + L * N + 6 * L * L + L * N + 2 * N * (L + 1);
  return {
    name,
    threads: 4 * N,
    sharedBytes: floats * 4,
    source: `${wkv7ChunkCommonSource(N, groups)}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ v,
                                   const float* __restrict__ a, const float* __restrict__ bb,
                                   const float* s_in, float* __restrict__ y, float* s_out, int T, int H) {
  extern __shared__ float sh[];
  float* C = sh;
  float* V = C + PER;
  float* work = V + L * N;
  float* P = work + 6 * L * L + L * N;
  float* U = P + N * LP;
  const int tid = threadIdx.x, p = tid % TPR;
  const int bh = blockIdx.x / G, h = bh % H, row0 = (blockIdx.x % G) * (N / G);
  const int i = row0 + tid / TPR;   // this thread's value row
  const long long b = bh / H;
  const long long sbase = (long long)bh * N * N + (long long)i * N;
  float s[CPT];
  #pragma unroll
  for (int jj = 0; jj < CPT; jj++) s[jj] = s_in[sbase + TPR * jj + p];
  for (int c0 = 0; c0 < T; c0 += L) {
    const int Lc = min(L, T - c0);
    for (int e = tid; e < L * N; e += blockDim.x) {
      const int t = e / N, j = e % N;
      V[e] = t < Lc ? v[((b * T + c0 + t) * H + h) * N + j] : 0.f;
    }
    prepareChunk(r, w, k, a, bb, b, h, c0, T, H, C, work);   // ends with a barrier
    advanceRow(C, V, P, U, P, i, p, s);
    __syncthreads();
    writeRows(y, P, b, h, c0, T, H, row0);
    __syncthreads();
  }
  #pragma unroll
  for (int jj = 0; jj < CPT; jj++) s_out[sbase + TPR * jj + p] = s[jj];
}
`,
  };
}

/**
 * First of the two-kernel chunked WKV-7: the row-free steps of every chunk at once, one
 * block per (stream, head, chunk), written to `prep` ([B, H, chunks, wkv7ChunkFloats(N)]).
 * They need no state, so they run in parallel over the whole sequence.
 */
export function wkv7ChunkPrepKernel(N: number): ChunkKernel {
  checkChunkedHead(N, 1);
  const L = WKV7_CHUNK;
  const name = `rwkv_wkv7_chunk_prep_n${N}`;
  return {
    name,
    threads: 4 * N,
    sharedBytes: (wkv7ChunkFloats(N) + 6 * L * L + L * N) * 4,
    source: `${wkv7ChunkCommonSource(N, 1)}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ a,
                                   const float* __restrict__ bb, float* __restrict__ prep, int T, int H) {
  extern __shared__ float sh[];
  float* C = sh;
  float* work = C + PER;
  const int nC = (T + L - 1) / L, c = blockIdx.x % nC, bh = blockIdx.x / nC;
  prepareChunk(r, w, k, a, bb, bh / H, bh % H, c * L, T, H, C, work);
  float* out = prep + (long long)blockIdx.x * PER;
  for (int e = threadIdx.x; e < PER; e += blockDim.x) out[e] = C[e];
}
`,
  };
}

/**
 * Second of the two-kernel chunked WKV-7: the walk over chunks, one block per (stream,
 * head, group of value rows), reading each chunk's prepared data (and v) while the
 * previous chunk is computed: the next chunk's loads are issued into registers before the
 * current one's arithmetic, so the walk waits on memory once, not once a chunk.
 */
export function wkv7ChunkScanKernel(N: number, groups: 1 | 2 | 4 | 8): ChunkKernel {
  checkChunkedHead(N, groups);
  const L = WKV7_CHUNK;
  const name = `rwkv_wkv7_chunk_scan_n${N}_g${groups}`;
  const threads = 4 * N;
  const prepSlots = Math.ceil(wkv7ChunkFloats(N) / 4 / threads);
  const vSlots = Math.ceil((L * N) / 4 / threads);
  return {
    name,
    threads,
    sharedBytes: (wkv7ChunkFloats(N) + L * N + 2 * N * (L + 1)) * 4,
    source: `${wkv7ChunkCommonSource(N, groups)}
#define PREP_SLOTS ${prepSlots}
#define V_SLOTS ${vSlots}
extern "C" __global__ void ${name}(const float* __restrict__ prep, const float* __restrict__ v,
                                   const float* s_in, float* __restrict__ y, float* s_out, int T, int H) {
  extern __shared__ float4 sh4[];
  float* sh = reinterpret_cast<float*>(sh4);
  float* C = sh;                 // PER floats (a multiple of 4)
  float* V = C + PER;            // [L][N]
  float* P = V + L * N;          // [N][LP]
  float* U = P + N * LP;
  const int tid = threadIdx.x, p = tid % TPR;
  const int bh = blockIdx.x / G, h = bh % H, row0 = (blockIdx.x % G) * (N / G);
  const int i = row0 + tid / TPR;
  const long long b = bh / H;
  const long long sbase = (long long)bh * N * N + (long long)i * N;
  const int nC = (T + L - 1) / L;
  const float4* prep4 = reinterpret_cast<const float4*>(prep) + (long long)bh * nC * (PER / 4);
  float4 pc[PREP_SLOTS], pv[V_SLOTS];
  // Registers <- chunk c (prepared data and v; v rows past T are zero).
  auto load = [&](int c) {
    const float4* src = prep4 + (long long)c * (PER / 4);
    #pragma unroll
    for (int u = 0; u < PREP_SLOTS; u++) {
      const int e = tid + u * blockDim.x;
      if (e < PER / 4) pc[u] = src[e];
    }
    #pragma unroll
    for (int u = 0; u < V_SLOTS; u++) {
      const int e = tid + u * blockDim.x;
      if (e < L * N / 4) {
        const int t = e / (N / 4), j4 = e % (N / 4);
        pv[u] = c * L + t < T
          ? reinterpret_cast<const float4*>(v + ((b * T + c * L + t) * H + h) * N)[j4]
          : make_float4(0.f, 0.f, 0.f, 0.f);
      }
    }
  };
  float s[CPT];
  #pragma unroll
  for (int jj = 0; jj < CPT; jj++) s[jj] = s_in[sbase + TPR * jj + p];
  load(0);
  for (int c = 0; c < nC; c++) {
    #pragma unroll
    for (int u = 0; u < PREP_SLOTS; u++) {
      const int e = tid + u * blockDim.x;
      if (e < PER / 4) sh4[e] = pc[u];
    }
    #pragma unroll
    for (int u = 0; u < V_SLOTS; u++) {
      const int e = tid + u * blockDim.x;
      if (e < L * N / 4) reinterpret_cast<float4*>(V)[e] = pv[u];
    }
    __syncthreads();
    if (c + 1 < nC) load(c + 1);
    advanceRow(C, V, P, U, P, i, p, s);
    __syncthreads();
    writeRows(y, P, b, h, c * L, T, H, row0);
  }
  #pragma unroll
  for (int jj = 0; jj < CPT; jj++) s_out[sbase + TPR * jj + p] = s[jj];
}
`,
  };
}
