import { BadInputError } from '../errors.js';
import { describeRwkvModel } from '../weights/describe.js';
import { loadWeights } from '../weights/load.js';
import type { WeightFile } from '../weights/weight-file.js';
import type { RwkvConfig } from './config.js';
import { RwkvModel, type RwkvModelOptions } from './model.js';

/** rwkv.cpp computes RWKV-5's ln_x with eps 1e-5 (see RwkvConfig.lnXEpsilon). */
const RWKV_CPP_V5_LN_X_EPS = 1e-5;

/**
 * safetensors metadata key recording a non-default ln_x epsilon, so that converting an
 * rwkv.cpp RWKV-5 file to safetensors keeps the function rwkv.cpp computes.
 */
export const LN_X_EPS_METADATA = 'rwkv_streams.ln_x_epsilon';

/**
 * The model sizes of weights already read, with the runtime facts the format implies:
 * rwkv.cpp RWKV-5 files use rwkv.cpp's ln_x epsilon; safetensors may record one.
 */
export function configOfWeights(file: WeightFile): {
  config: RwkvConfig;
  tensors: ReturnType<typeof describeRwkvModel>['tensors'];
} {
  const { config, tensors } = describeRwkvModel(file);
  const recorded = file.metadata[LN_X_EPS_METADATA];
  if (recorded !== undefined) {
    const eps = Number(recorded);
    if (!(eps > 0))
      throw new BadInputError(
        `metadata '${LN_X_EPS_METADATA}' must be a positive number, got '${recorded}'`,
        { file: file.source, field: LN_X_EPS_METADATA },
      );
    return { config: { ...config, lnXEpsilon: eps }, tensors };
  }
  if (file.format === 'rwkv-cpp' && config.version === 5)
    return { config: { ...config, lnXEpsilon: RWKV_CPP_V5_LN_X_EPS }, tensors };
  return { config, tensors };
}

/** Builds a model from weights already read (any format). */
export function modelFromWeights(file: WeightFile, options: RwkvModelOptions = {}): RwkvModel {
  const { config, tensors } = configOfWeights(file);
  return new RwkvModel(config, tensors, options);
}

/**
 * Loads an RWKV model from a safetensors, official `.pth` or rwkv.cpp file (detected
 * from its content) and places it on a backend.
 */
export async function loadRwkvModel(path: string, options: RwkvModelOptions = {}): Promise<RwkvModel> {
  return modelFromWeights(loadWeights(path), options);
}
