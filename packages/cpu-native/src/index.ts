/**
 * @rwkv-streams/cpu-native: a CPU backend that compiles graphs to C with the system's C
 * compiler (built once per graph and machine, cached) and calls them through koffi: one C
 * function a call, the small ops between the products fused into it. Importing the package
 * registers it for the 'cpu' device; graphs it does not compile yet run on onnxruntime.
 */
import { registerBackend } from '@rwkv-streams/core';
import { cpuNativeBackend } from './backend.js';

export { assertCpuNativeAvailable, cpuNativeBackend, unsupportedOptions } from './backend.js';
export { unsupportedReason } from './codegen/emit-graph.js';
export {
  buildLibrary,
  C_FLAGS,
  type CCompiler,
  findCCompiler,
  haveCCompiler,
} from './compiler/c-compiler.js';

registerBackend(cpuNativeBackend);
