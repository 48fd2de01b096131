import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BadInputError,
  type HostTensor,
  loadWeights,
  MissingTensorError,
  type RwkvConfig,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import type { SpeechModelConfig } from './speech-config.js';
import { SpeechModel, type SpeechModelOptions } from './speech-model.js';

/** The file a model directory holds (training/audio/export_asr.py writes it). */
export const SPEECH_MODEL_FILE = 'model.safetensors';

/** Filterbank bins the shipped models use; a file may record another in its metadata `config`. */
const DEFAULT_FEATURE_DIM = 80;

function tensor(file: WeightFile, name: string, rank: number): HostTensor {
  const t = file.tensors.get(name);
  if (!t)
    throw new MissingTensorError(`tensor '${name}' is required by the speech model`, {
      file: file.source,
      field: name,
    });
  if (t.shape.length !== rank)
    throw new ShapeMismatchError(`tensor '${name}' has ${t.shape.length} dimensions, expected ${rank}`, {
      file: file.source,
      field: name,
    });
  return t;
}

/** RWKV-7 sizes of one part (`encoder` or `predictor`), read from its tensor shapes. */
function rwkv7Config(file: WeightFile, part: string, vocab: number): RwkvConfig {
  let nLayer = 0;
  while (file.tensors.has(`${part}.blocks.${nLayer}.ln1.weight`)) nLayer++;
  if (nLayer === 0)
    throw new MissingTensorError(`no RWKV blocks under '${part}.blocks.'`, {
      file: file.source,
      field: `${part}.blocks.0.ln1.weight`,
    });
  const rk = tensor(file, `${part}.blocks.0.att.r_k`, 2); // [H, N]
  const [nHead, headSize] = rk.shape as [number, number];
  const key = tensor(file, `${part}.blocks.0.ffn.key.weight`, 2); // [dimFfn, C]
  const [dimFfn, nEmbd] = key.shape as [number, number];
  if (nHead * headSize !== nEmbd)
    throw new ShapeMismatchError(`${part}: ${nHead} heads of ${headSize} do not make ${nEmbd} channels`, {
      file: file.source,
      field: `${part}.blocks.0.att.r_k`,
    });
  return { version: 7, nLayer, nEmbd, nVocab: vocab, dimFfn, headSize, nHead };
}

function recordedFeatureDim(file: WeightFile): number {
  const raw = file.metadata['config'];
  if (typeof raw !== 'string') return DEFAULT_FEATURE_DIM;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BadInputError(`metadata 'config' is not JSON`, { file: file.source, field: 'config' });
  }
  const f = (parsed as { feature_dim?: unknown }).feature_dim;
  if (f === undefined) return DEFAULT_FEATURE_DIM;
  if (typeof f !== 'number' || !Number.isInteger(f) || f < 1)
    throw new BadInputError(`metadata config.feature_dim must be a positive integer, got ${String(f)}`, {
      file: file.source,
      field: 'config.feature_dim',
    });
  return f;
}

/**
 * The speech model's sizes, read from its weights: d and the stack from the stem, the
 * vocabulary from the joiner's output, the CTC frames a step from the CTC head's rows (a
 * multiple of the vocabulary), each RWKV-7 stack's layers, widths and heads from its
 * blocks, the joiner width from the joiner (the feature dimension from the metadata, 80
 * when absent). Missing or inconsistent tensors are typed errors naming the tensor.
 */
export function speechConfigOfWeights(file: WeightFile): SpeechModelConfig {
  const featureDim = recordedFeatureDim(file);
  const stem = tensor(file, 'encoder.stem.weight', 2);
  const window = stem.shape[1]!;
  if (window % (2 * featureDim) !== 0)
    throw new ShapeMismatchError(
      `encoder.stem.weight has ${window} inputs, not a multiple of 2 x ${featureDim} feature bins`,
      { file: file.source, field: 'encoder.stem.weight' },
    );
  const vocab = tensor(file, 'joiner.out.weight', 2).shape[0]!;
  const ctcRows = tensor(file, 'ctc.weight', 2).shape[0]!;
  if (ctcRows % vocab !== 0)
    throw new ShapeMismatchError(
      `ctc.weight has ${ctcRows} rows, not a multiple of the ${vocab} symbols of joiner.out.weight`,
      { file: file.source, field: 'ctc.weight' },
    );
  return {
    featureDim,
    stack: window / (2 * featureDim),
    vocab,
    encoder: rwkv7Config(file, 'encoder', vocab),
    predictor: rwkv7Config(file, 'predictor', vocab),
    joinerDim: tensor(file, 'joiner.out.weight', 2).shape[1]!,
    ...(ctcRows !== vocab ? { ctcFrames: ctcRows / vocab } : {}),
  };
}

/**
 * Loads a speech model from a safetensors file, or a directory holding `model.safetensors`
 * (the shipped models' layout), and places it on a backend.
 */
export async function loadSpeechModel(path: string, options: SpeechModelOptions = {}): Promise<SpeechModel> {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, SPEECH_MODEL_FILE);
  } catch {
    throw new BadInputError(`speech model not found: ${path}`, { file: path });
  }
  const weights = loadWeights(file);
  return SpeechModel.create(speechConfigOfWeights(weights), weights.tensors, options);
}
