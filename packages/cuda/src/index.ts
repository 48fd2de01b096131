/**
 * @rwkv-streams/cuda: the CUDA backend. Importing this package registers a backend for
 * device 'cuda' with the core; models then run there with `{ device: 'cuda' }`. Kernels
 * are CUDA C compiled at run time by NVRTC (cached on disk), GEMMs run in cuBLAS, and
 * the driver API is called through koffi: no native build step. Without an NVIDIA GPU
 * the import still succeeds; compiling a model says what is missing.
 */

import { registerBackend } from '@rwkv-streams/core';
import { cudaBackend } from './backend/cuda-backend.js';

registerBackend(cudaBackend);

export { type CudaBackendOptions, createCudaBackend, cudaBackend } from './backend/cuda-backend.js';
export { Cublas, type GemmSpec, type GemmType } from './driver/cublas.js';
export {
  CU_DEVICE_ATTRIBUTE,
  CudaContext,
  CudaEvent,
  type CudaFunction,
  CudaGraph,
  CudaModule,
  CudaStream,
  type DevicePtr,
  encodeKernelArgs,
  type KernelArg,
  type LaunchConfig,
} from './driver/cuda-driver.js';
export { CublasError, CudaDriverError, NvrtcError } from './driver/errors.js';
export {
  CUBLAS,
  CUDA_DRIVER,
  defaultCacheDir,
  type LibrarySpec,
  librarySearchDirs,
  loadLibrary,
  NVRTC,
  type SearchContext,
} from './driver/libraries.js';
export { compileCuda, KernelCache, kernelCacheKey, nvrtcVersion } from './driver/nvrtc.js';
export { gpuAvailable, probeGpu } from './driver/probe.js';
export { CudaExecutable, type ExecutableOptions } from './exec/executable.js';
export { Plan, type PlanOptions } from './exec/plan.js';
export { DeviceWeights, type ElemType } from './exec/weights.js';
export {
  GEMV_GROUP_WARPS,
  type GemvGroupKernel,
  type GemvKernelOptions,
  type GemvOperand,
  type GemvSegmentSpec,
  gemvGroupKernel,
  gemvSplit,
} from './kernels/gemv-group.js';
export type { AffineColumns, AffineSplit, AffineStages } from './kernels/wkv7-chunk-affine.js';
export { CudaRuntime, type CudaRuntimeOptions, sharedRuntime } from './runtime.js';
