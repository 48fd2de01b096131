/** Weight readers: safetensors, rwkv.cpp, torch.save .pth, and the RWKV model description. */

export {
  type CanonicalChange,
  type CanonicalRwkvCpp,
  canonicalizeRwkvCpp,
  canonicalizeRwkvCppDetailed,
  detectRwkvCppArch,
  RWKV_CPP_CONVERSIONS,
  type RwkvCppArch,
  type RwkvCppConversion,
} from './canonical-rwkv-cpp.js';
export {
  describeRwkvModel,
  expectedTensors,
  type RwkvModelDescription,
  type RwkvShapeParams,
  type TensorSpec,
} from './describe.js';
export {
  dequantize,
  GGML_BLOCK_BYTES,
  GGML_BLOCK_VALUES,
  type GgmlQuantType,
  quantize,
  quantizedByteLength,
} from './ggml-quant.js';
export { detectWeightFormat, loadWeights, loadWeightsFromBytes } from './load.js';
export {
  type PickleGlobal,
  type PickleOp,
  type PickleSemantics,
  type PickleSource,
  type PickleValue,
  scanPickle,
  unpickle,
} from './pth/pickle-machine.js';
export { readPth, readPthFile } from './pth/read-pth.js';
export { isAllowedTorchGlobal } from './pth/torch-pickle.js';
export {
  RWKV_CPP_MAGIC,
  RWKV_CPP_TYPE_NAMES,
  RWKV_CPP_VERSIONS,
  type RwkvCppHeader,
  readRwkvCpp,
  readRwkvCppFile,
  readRwkvCppHeader,
} from './rwkv-cpp.js';
export {
  readSafetensors,
  readSafetensorsFile,
  SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsInput,
  type WriteSafetensorsOptions,
  writeSafetensors,
  writeSafetensorsFile,
} from './safetensors.js';
export type { WeightFile, WeightFormat } from './weight-file.js';
export * from './write-rwkv-cpp.js';
