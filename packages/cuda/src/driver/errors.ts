/**
 * Errors of the CUDA layer. A failing driver or NVRTC call names the call and the CUDA
 * error (name, number, description), so a caller can branch on `result` or `errorName`.
 */

/** A CUDA driver API call returned a non-zero CUresult. */
export class CudaDriverError extends Error {
  readonly code = 'CUDA_DRIVER_ERROR' as const;
  /** The driver function that failed, e.g. 'cuMemAlloc_v2'. */
  readonly call: string;
  /** The CUresult number. */
  readonly result: number;
  /** The CUresult name, e.g. 'CUDA_ERROR_OUT_OF_MEMORY'. */
  readonly errorName: string;

  constructor(call: string, result: number, errorName: string, description: string) {
    super(`${call} failed: ${errorName} (${result}): ${description}`);
    this.name = 'CudaDriverError';
    this.call = call;
    this.result = result;
    this.errorName = errorName;
  }
}

/** An NVRTC call failed; for a failed compilation, `log` holds the compiler's log. */
export class NvrtcError extends Error {
  readonly code = 'NVRTC_ERROR' as const;
  /** The NVRTC function that failed. */
  readonly call: string;
  /** The nvrtcResult number. */
  readonly result: number;
  /** The compiler log (empty unless the compilation itself failed). */
  readonly log: string;

  constructor(call: string, result: number, resultName: string, log = '', what = '') {
    const where = what ? ` compiling ${what}` : '';
    super(`${call} failed${where}: ${resultName} (${result})${log ? `\n${log}` : ''}`);
    this.name = 'NvrtcError';
    this.call = call;
    this.result = result;
    this.log = log;
  }
}

/** A cuBLAS call returned a status other than CUBLAS_STATUS_SUCCESS. */
export class CublasError extends Error {
  readonly code = 'CUBLAS_ERROR' as const;
  /** The cuBLAS function that failed. */
  readonly call: string;
  /** The cublasStatus_t number. */
  readonly status: number;

  constructor(call: string, status: number, text: string) {
    super(`${call} failed: ${text} (${status})`);
    this.name = 'CublasError';
    this.call = call;
    this.status = status;
  }
}
