// WKV-7 (the generalized delta rule of RWKV-7) for training: forward and backward, float32,
// one block per (batch, head), WKV_N threads (the head size, 64 in every model we train).
// Compiled at run time by NVRTC (training/cuda_launch.py) on the GPU machine, and for the
// host by g++ under training/cuda_kernels/emulate.h in the tests, from this same text: so it
// uses no CUDA headers and nothing outside what both compilers accept.
//
// Per step t, with the state S [value i, key j] of one head:
//   sa_t = S_{t-1} a_t,  S_t = S_{t-1} diag(w_t) + sa_t b_t^T + v_t k_t^T,  y_t = S_t r_t,
//   w_t = exp(logw_t).
// Inputs [B, T, H, N] (row-major), state [B, H, N, N] as [value, key].
//
// Forward: thread i owns row i of S (every sum it needs is along its own row). It writes y,
// sa_t (for the backward) and a checkpoint of S after every CK-th step and after the last.
// Backward: thread j owns column j of S and of dS (the sums along i become its own), and
// walks back through each checkpoint interval undoing one step at a time,
//   S_{t-1} = (S_t - v_t k_t^T - sa_t b_t^T) diag(1 / w_t),
// which is exact up to rounding and amplifies it by at most 1 / min(w) a step: RWKV-7's
// decays are at least exp(-exp(-0.5)) = 0.545, so at most 1.83x a step, and every interval
// starts again from a stored state (CK steps of undoing at most; tests bound the error).

#ifndef WKV_N
#define WKV_N 64
#endif

typedef long long wkv_index;

extern "C" __global__ void wkv7_forward(int B, int T, int H, int CK, const float* r, const float* logw,
                                        const float* k, const float* v, const float* a, const float* b,
                                        const float* s0, float* y, float* sa_out, float* ckpt,
                                        float* s_out) {
  const int N = WKV_N;
  const int bh = blockIdx.x;
  const int bb = bh / H;
  const int hh = bh % H;
  const int i = threadIdx.x;
  const int nc = (T + CK - 1) / CK;
  __shared__ float sr[WKV_N], sw[WKV_N], sk[WKV_N], sa_[WKV_N], sb[WKV_N];
  float s[WKV_N];
  const wkv_index row = ((wkv_index)bh * N + i) * N;
#pragma unroll
  for (int j = 0; j < N; j++) s[j] = s0 ? s0[row + j] : 0.0f;
  // step t's inputs are read into registers during step t - 1 (global memory's latency
  // hidden behind a step's arithmetic), then published to the block through shared memory
  const wkv_index stride = (wkv_index)H * N;
  wkv_index idx = ((wkv_index)bb * T * H + hh) * N + i;
  float nr = r[idx], nlw = logw[idx], nk = k[idx], na = a[idx], nb = b[idx], nv = v[idx];
  for (int t = 0; t < T; t++, idx += stride) {
    // the step before has finished reading the shared vectors
    __syncthreads();
    sr[i] = nr;
    sw[i] = expf(nlw);
    sk[i] = nk;
    sa_[i] = na;
    sb[i] = nb;
    const float vi = nv;
    __syncthreads();
    if (t + 1 < T) {
      nr = r[idx + stride];
      nlw = logw[idx + stride];
      nk = k[idx + stride];
      na = a[idx + stride];
      nb = b[idx + stride];
      nv = v[idx + stride];
    }
    float sa = 0.0f;
#pragma unroll
    for (int j = 0; j < N; j++) sa += s[j] * sa_[j];
    float yi = 0.0f;
#pragma unroll
    for (int j = 0; j < N; j++) {
      s[j] = s[j] * sw[j] + sa * sb[j] + vi * sk[j];
      yi += s[j] * sr[j];
    }
    y[idx] = yi;
    sa_out[idx] = sa;
    if ((t + 1) % CK == 0 || t == T - 1) {
      const wkv_index c = t / CK;
      float* dst = ckpt + (((wkv_index)bh * nc + c) * N + i) * N;
#pragma unroll
      for (int j = 0; j < N; j++) dst[j] = s[j];
    }
  }
#pragma unroll
  for (int j = 0; j < N; j++) s_out[row + j] = s[j];
}

extern "C" __global__ void wkv7_backward(int B, int T, int H, int CK, const float* r, const float* logw,
                                         const float* k, const float* v, const float* a, const float* b,
                                         const float* s0, const float* sa_in, const float* ckpt,
                                         const float* dy, const float* ds_out, float* dr, float* dlogw,
                                         float* dk, float* dv, float* da, float* db, float* ds0) {
  const int N = WKV_N;
  const int bh = blockIdx.x;
  const int bb = bh / H;
  const int hh = bh % H;
  const int j = threadIdx.x;
  const int nc = (T + CK - 1) / CK;
  __shared__ float sdy[WKV_N], sv[WKV_N], ssa[WKV_N], sdsa[WKV_N];
  // one value per (i, j) for the two sums along j (over threads); N + 1 columns so that
  // both the column writes and the row reads fall in distinct banks
  __shared__ float red[WKV_N][WKV_N + 1];
  float s[WKV_N];   // S[i][j] for this thread's column j: S_t, then S_{t-1}
  float ds[WKV_N];  // dL/dS[i][j]
  const wkv_index state = (wkv_index)bh * N * N;
  {
    const float* last = ckpt + ((wkv_index)bh * nc + (nc - 1)) * N * N;
#pragma unroll
    for (int i = 0; i < N; i++) {
      s[i] = last[i * N + j];
      ds[i] = ds_out ? ds_out[state + i * N + j] : 0.0f;
    }
  }
  // as in the forward, step t - 1's inputs are read during step t
  const wkv_index stride = (wkv_index)H * N;
  wkv_index idx = (((wkv_index)bb * T + (T - 1)) * H + hh) * N + j;
  float ndy = dy[idx], nv = v[idx], nsa = sa_in[idx], nr = r[idx], nlw = logw[idx], nk = k[idx], na = a[idx],
        nb = b[idx];
  for (int t = T - 1; t >= 0; t--, idx -= stride) {
    __syncthreads();
    sdy[j] = ndy;
    sv[j] = nv;
    ssa[j] = nsa;
    const float rj = nr;
    const float wj = expf(nlw);
    const float kj = nk;
    const float aj = na;
    const float bj = nb;
    __syncthreads();
    if (t > 0) {
      ndy = dy[idx - stride];
      nv = v[idx - stride];
      nsa = sa_in[idx - stride];
      nr = r[idx - stride];
      nlw = logw[idx - stride];
      nk = k[idx - stride];
      na = a[idx - stride];
      nb = b[idx - stride];
    }
    // y_t = S_t r_t
    float drj = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++) {
      ds[i] += sdy[i] * rj;
      drj += s[i] * sdy[i];
    }
    // S_{t-1}: the stored state at the start of an interval, else one step undone
    const int c = t / CK;
    if (t == c * CK) {
      const float* prev = c == 0 ? (s0 ? s0 + state : 0) : ckpt + ((wkv_index)bh * nc + (c - 1)) * N * N;
#pragma unroll
      for (int i = 0; i < N; i++) s[i] = prev ? prev[i * N + j] : 0.0f;
    } else {
      const float inv = 1.0f / wj;
#pragma unroll
      for (int i = 0; i < N; i++) s[i] = (s[i] - sv[i] * kj - ssa[i] * bj) * inv;
    }
    float dwj = 0.0f, dkj = 0.0f, dbj = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++) {
      dwj += ds[i] * s[i];
      dkj += ds[i] * sv[i];
      dbj += ds[i] * ssa[i];
    }
    // dv_i = sum_j dS[i][j] k_j (thread j computes dv for i = j)
#pragma unroll
    for (int i = 0; i < N; i++) red[i][j] = ds[i] * kj;
    __syncthreads();
    float dvj = 0.0f;
#pragma unroll
    for (int jj = 0; jj < N; jj++) dvj += red[j][jj];
    __syncthreads();
    // dsa_i = sum_j dS[i][j] b_j
#pragma unroll
    for (int i = 0; i < N; i++) red[i][j] = ds[i] * bj;
    __syncthreads();
    float dsaj = 0.0f;
#pragma unroll
    for (int jj = 0; jj < N; jj++) dsaj += red[j][jj];
    sdsa[j] = dsaj;
    __syncthreads();
    // da_j = sum_i dsa_i S_{t-1}[i][j];  dS_{t-1} = dS_t diag(w) + dsa a^T
    float daj = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++) {
      daj += sdsa[i] * s[i];
      ds[i] = ds[i] * wj + sdsa[i] * aj;
    }
    dr[idx] = drj;
    dlogw[idx] = dwj * wj;  // w = exp(logw)
    dk[idx] = dkj;
    dv[idx] = dvj;
    da[idx] = daj;
    db[idx] = dbj;
  }
  if (ds0) {
#pragma unroll
    for (int i = 0; i < N; i++) ds0[state + i * N + j] = ds[i];
  }
}
