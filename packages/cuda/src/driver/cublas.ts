import koffi from 'koffi';
import { type CudaStream, cudaDriverApi, type DevicePtr } from './cuda-driver.js';
import { CublasError } from './errors.js';
import { bindFunctions, CUBLAS, type NativeFn, sharedLibrary } from './libraries.js';

const DECLARATIONS = [
  'int cublasCreate_v2(_Out_ cublasHandle_t *handle)',
  'int cublasDestroy_v2(cublasHandle_t handle)',
  'int cublasSetStream_v2(cublasHandle_t handle, CUstream stream)',
  'int cublasSetWorkspace_v2(cublasHandle_t handle, uint64_t workspace, size_t bytes)',
  'int cublasSetMathMode(cublasHandle_t handle, int mode)',
  'int cublasGemmStridedBatchedEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const void *alpha, uint64_t A, int Atype, int lda, long long strideA, uint64_t B, int Btype, int ldb, long long strideB, const void *beta, uint64_t C, int Ctype, int ldc, long long strideC, int batchCount, int computeType, int algo)',
  'const char *cublasGetStatusString(int status)',
];

/** cudaDataType_t values. */
export const CUDA_R = { f32: 0, f16: 2, bf16: 14 } as const;
/** Element types a GEMM operand can have. */
export type GemmType = keyof typeof CUDA_R;
/** cublasComputeType_t: CUBLAS_COMPUTE_32F (fp32 accumulation, no TF32). */
const CUBLAS_COMPUTE_32F = 68;
/** cublasGemmAlgo_t: CUBLAS_GEMM_DEFAULT. */
const CUBLAS_GEMM_DEFAULT = -1;
/** cublasMath_t: CUBLAS_PEDANTIC_MATH would forbid reduced-precision reductions; default is enough. */
const CUBLAS_DEFAULT_MATH = 0;
/** cuBLAS' workspace: given explicitly so that GEMMs can be captured into CUDA graphs. */
export const CUBLAS_WORKSPACE_BYTES = 32 * 1024 * 1024;

let api: Readonly<Record<string, NativeFn>> | undefined;

function cublasApi(): Readonly<Record<string, NativeFn>> {
  if (api) return api;
  cudaDriverApi(); // declares CUstream
  const library = sharedLibrary(CUBLAS);
  koffi.pointer('cublasHandle_t', koffi.opaque('cublasContext'));
  const fns = bindFunctions(library, DECLARATIONS);
  api = fns;
  return api;
}

function check(call: string, rc: number): void {
  if (rc === 0) return;
  let text = `cublasStatus ${rc}`;
  try {
    const s = cublasApi()['cublasGetStatusString']!(rc) as unknown;
    if (typeof s === 'string') text = s;
  } catch {
    // keep the number
  }
  throw new CublasError(call, rc, text);
}

/** One GEMM in cuBLAS' column-major terms: C[m, n] = op(A)[m, k] op(B)[k, n]. */
export interface GemmSpec {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: DevicePtr;
  readonly aType: GemmType;
  readonly lda: number;
  readonly b: DevicePtr;
  readonly bType: GemmType;
  readonly ldb: number;
  readonly c: DevicePtr;
  /**
   * C's element type: float32 (default), or the half type of A and B (the float32
   * accumulator rounded once as it is stored).
   */
  readonly cType?: GemmType;
  readonly ldc: number;
  /** C += op(A) op(B) (beta 1: C's contents are the addend) instead of C = ... */
  readonly accumulate?: boolean;
  /** Strided batches (all three strides in elements); absent: one GEMM. */
  readonly batch?: {
    readonly count: number;
    readonly strideA: number;
    readonly strideB: number;
    readonly strideC: number;
  };
}

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);

/**
 * A cuBLAS handle bound to one stream, with its workspace given explicitly (so its
 * GEMMs can be captured into CUDA graphs). Accumulation is float32; C float32 unless a
 * half C is asked for (`GemmSpec.cType`).
 */
export class Cublas {
  private disposed = false;

  private constructor(readonly handle: unknown) {}

  static create(stream: CudaStream, workspace: DevicePtr, workspaceBytes: number): Cublas {
    const fns = cublasApi();
    const out: unknown[] = [null];
    check('cublasCreate_v2', fns['cublasCreate_v2']!(out));
    const h = new Cublas(out[0]);
    check('cublasSetStream_v2', fns['cublasSetStream_v2']!(out[0], stream.handle));
    check('cublasSetWorkspace_v2', fns['cublasSetWorkspace_v2']!(out[0], workspace, workspaceBytes));
    check('cublasSetMathMode', fns['cublasSetMathMode']!(out[0], CUBLAS_DEFAULT_MATH));
    return h;
  }

  /** Enqueues the GEMM on the handle's stream (a single GEMM is a batch of one). */
  gemm(g: GemmSpec): void {
    const b = g.batch ?? { count: 1, strideA: 0, strideB: 0, strideC: 0 };
    check(
      'cublasGemmStridedBatchedEx',
      cublasApi()['cublasGemmStridedBatchedEx']!(
        this.handle,
        g.transA ? 1 : 0,
        g.transB ? 1 : 0,
        g.m,
        g.n,
        g.k,
        ONE,
        g.a,
        CUDA_R[g.aType],
        g.lda,
        b.strideA,
        g.b,
        CUDA_R[g.bType],
        g.ldb,
        b.strideB,
        g.accumulate ? ONE : ZERO,
        g.c,
        CUDA_R[g.cType ?? 'f32'],
        g.ldc,
        b.strideC,
        b.count,
        CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT,
      ),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    check('cublasDestroy_v2', cublasApi()['cublasDestroy_v2']!(this.handle));
  }
}
