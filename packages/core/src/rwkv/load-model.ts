import { describeRwkvModel } from '../weights/describe.js';
import { loadWeights } from '../weights/load.js';
import type { WeightFile } from '../weights/weight-file.js';
import type { RwkvConfig } from './config.js';
import { RwkvModel, type RwkvModelOptions } from './model.js';

/** rwkv.cpp computes RWKV-5's ln_x with eps 1e-5 (see RwkvConfig.lnXEpsilon). */
const RWKV_CPP_V5_LN_X_EPS = 1e-5;

/** Builds a model from weights already read (any format). */
export function modelFromWeights(file: WeightFile, options: RwkvModelOptions = {}): RwkvModel {
  const { config, tensors } = describeRwkvModel(file);
  const adjusted: RwkvConfig =
    file.format === 'rwkv-cpp' && config.version === 5
      ? { ...config, lnXEpsilon: RWKV_CPP_V5_LN_X_EPS }
      : config;
  return new RwkvModel(adjusted, tensors, options);
}

/**
 * Loads an RWKV model from a safetensors, official `.pth` or rwkv.cpp file (detected
 * from its content) and places it on a backend.
 */
export async function loadRwkvModel(path: string, options: RwkvModelOptions = {}): Promise<RwkvModel> {
  return modelFromWeights(loadWeights(path), options);
}
