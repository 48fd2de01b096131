import type { EmitContext, OpEmitter } from '../context.js';

/**
 * RWKV-7's WKV (the builder's `wkv7`: s' = s diag(w) + (s a) b^T + v k^T, y = s' r, the state
 * indexed [value i, key j]) over the call's T steps; the threads share the (stream, head) pairs.
 */
export const emitWkv7: OpEmitter = (ctx: EmitContext, node) => {
  const [r, w, k, v, a, b, s] = node.inputs.map((x) => ctx.value(x));
  const y = ctx.define(node.outputs[0]!);
  const s2 = ctx.define(node.outputs[1]!);
  const [B, T, H, N] = r!.dims;
  ctx.parallel(`#pragma omp for schedule(static) nowait
for (int64_t bh = 0; bh < (int64_t)(${B}) * (${H}); bh++) {
  const int64_t bi = bh / (${H}), h = bh % (${H});
  float* st = ${s2.ptr} + bh * (${N}) * (${N});
  memcpy(st, ${s!.ptr} + bh * (${N}) * (${N}), sizeof(float) * (${N}) * (${N}));
  for (int64_t t = 0; t < ${T}; t++) {
    const int64_t o = ((bi * (${T}) + t) * (${H}) + h) * (${N});
    const float *rr = ${r!.ptr} + o, *ww = ${w!.ptr} + o, *kk = ${k!.ptr} + o, *vv = ${v!.ptr} + o, *aa = ${a!.ptr} + o, *bb = ${b!.ptr} + o;
    for (int64_t i = 0; i < ${N}; i++) {
      float* row = st + i * (${N});
      float sa = 0.f, acc = 0.f;
#pragma omp simd reduction(+ : sa)
      for (int64_t j = 0; j < ${N}; j++) sa += row[j] * aa[j];
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < ${N}; j++) {
        row[j] = row[j] * ww[j] + sa * bb[j] + vv[i] * kk[j];
        acc += row[j] * rr[j];
      }
      ${y.ptr}[o + i] = acc;
    }
  }
}`);
};
