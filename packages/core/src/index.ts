/**
 * @rwkv-streams/core: RWKV graphs written once in TypeScript, run by pluggable
 * backends (onnxruntime built in), with state as a value, weight readers for
 * safetensors, official .pth and rwkv.cpp files, and the base RxJS operators.
 */

export {
  type Backend,
  type Carry,
  type CompiledGraph,
  type CompileOptions,
  checkOutputArray,
  type Device,
  type DrawRequest,
  type GraphSession,
  hostSession,
  type InitialValue,
  initialTensor,
  type OutputArrays,
  type TensorValue,
  type WeightDType,
  writeInto,
  type ZerosValue,
} from './backends/backend.js';
export { CompiledGraphCache } from './backends/graph-cache.js';
export {
  type LinearQuantization,
  type LowerOptions,
  lowerToOnnx,
  ONNX_OPSET,
} from './backends/onnx/lower.js';
export { onnxBackend } from './backends/onnx/onnx-backend.js';
export {
  dequantizeNBits,
  type NBitsQuantization,
  type NBitsWeight,
  quantizeNBits,
} from './backends/onnx/quantize-nbits.js';
export {
  backendFor,
  defaultDevice,
  registerBackend,
  registeredBackends,
  setDefaultDevice,
} from './backends/registry.js';
export * from './errors.js';
export { GraphBuilder } from './graph/builder.js';
export type {
  AttrValue,
  Dim,
  DType,
  Graph,
  Initializer,
  NamedOp,
  Node,
  OpName,
  StandardOp,
  Value,
} from './graph/ir.js';
export {
  checkQShift,
  type QShiftAttrs,
  qShiftDirections,
  qShiftSourceToken,
} from './graph/q-shift.js';
export { ByteLanguageModel, type GenerateOptions } from './lm/byte-lm.js';
export { rwkvStepper } from './lm/rwkv-stepper.js';
export { argmax, bitsFor, Sampler, type SamplingOptions, softmax } from './lm/sampling.js';
export {
  checkDrawOptions,
  drawKey,
  drawToken,
  drawUniform,
  mix32,
  type TokenDrawOptions,
} from './lm/token-draw.js';
export * from './operators/index.js';
export { BATCH, type BlockContext, type BlockOptions, blockContext, TIME } from './rwkv/block-context.js';
export { addRwkvBlocks, stateInputName, stateOutputName } from './rwkv/blocks.js';
export type { RwkvConfig, RwkvVersion } from './rwkv/config.js';
export { DEFAULT_LN_X_EPS } from './rwkv/config.js';
export { configOfWeights, LN_X_EPS_METADATA, loadRwkvModel, modelFromWeights } from './rwkv/load-model.js';
export { type ForwardOptions, type ForwardResult, RwkvModel, type RwkvModelOptions } from './rwkv/model.js';
export { buildRwkvGraph, LOGITS_FROM, type RwkvGraphOptions } from './rwkv/model-graph.js';
export { type RandomModelSizes, randomRwkvWeights, SeededRandom } from './rwkv/random-weights.js';
export { RwkvSession, type SessionGenerateOptions, type SessionResult } from './rwkv/rwkv-session.js';
export { stateCarry, zeroStateValues } from './rwkv/state-io.js';
export type { CrossLayer, RwkvVersionDef, StateVarSpec } from './rwkv/version.js';
export { versionDef } from './rwkv/versions.js';
export { x051aBlock } from './rwkv/x051a-block.js';
export { RwkvState, type StateSlot, stateSlots } from './state/rwkv-state.js';
export {
  decodeBFloat16,
  decodeFloat16,
  encodeBFloat16,
  encodeFloat16,
} from './tensor/float16.js';
export type { HostTensor, StoredDType } from './tensor/host-tensor.js';
export { hostTensor, numel } from './tensor/host-tensor.js';
export * from './weights/index.js';
