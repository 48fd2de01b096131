import {
  type Backend,
  BadInputError,
  type CompiledGraph,
  type CompileOptions,
  type Graph,
} from '@rwkv-streams/core';
import { CudaExecutable, type ExecutableOptions } from '../exec/executable.js';
import { DeviceWeights } from '../exec/weights.js';
import { type CudaRuntime, sharedRuntime } from '../runtime.js';

/** Tuning of the CUDA backend (defaults suit decoding and prefill alike). */
export interface CudaBackendOptions extends ExecutableOptions {
  /** Device ordinal (default: RWKV_STREAMS_CUDA_DEVICE, else 0). */
  readonly ordinal?: number;
}

function checkOptions(options: CompileOptions): void {
  if (options.quantization) {
    throw new BadInputError(
      `${options.quantization.bits}-bit quantization runs on the CPU backend (onnxruntime's MatMulNBits); the CUDA backend stores float32, float16 or bfloat16 weights (weightDType)`,
      { field: 'quantization' },
    );
  }
}

/**
 * A backend for device 'cuda': NVRTC-compiled kernels and cuBLAS GEMMs called through
 * koffi. Nothing touches the GPU until a graph is compiled, so importing the package on
 * a machine without one is harmless; compiling there throws BackendUnavailableError
 * naming the library that is missing and where it was looked for.
 */
export function createCudaBackend(options: CudaBackendOptions = {}): Backend {
  const runtime = (): CudaRuntime =>
    sharedRuntime(options.ordinal ?? Number(process.env['RWKV_STREAMS_CUDA_DEVICE'] ?? 0));
  return {
    name: 'cuda',
    devices: ['cuda'],
    async compile(graph: Graph, compileOptions: CompileOptions): Promise<CompiledGraph> {
      checkOptions(compileOptions);
      const rt = runtime();
      const weights = await rt.exclusive(async () =>
        DeviceWeights.upload(rt, [graph], compileOptions.weightDType ?? 'float32'),
      );
      return new CudaExecutable(rt, { kind: 'one', graph }, weights, options);
    },
    async compileByTime(
      whenTimeIs1: Graph,
      otherwise: Graph,
      timeInput: string,
      compileOptions: CompileOptions,
    ): Promise<CompiledGraph> {
      checkOptions(compileOptions);
      const rt = runtime();
      const weights = await rt.exclusive(async () =>
        DeviceWeights.upload(rt, [whenTimeIs1, otherwise], compileOptions.weightDType ?? 'float32'),
      );
      return new CudaExecutable(
        rt,
        { kind: 'byTime', step: whenTimeIs1, sequence: otherwise, timeInput },
        weights,
        options,
      );
    },
  };
}

/** The backend registered by importing `@rwkv-streams/cuda`. */
export const cudaBackend: Backend = createCudaBackend();
