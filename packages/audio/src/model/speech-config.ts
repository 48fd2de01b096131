import { type HostTensor, MissingTensorError, type RwkvConfig, ShapeMismatchError } from '@rwkv-streams/core';

/**
 * Sizes of the speech model: a causal RWKV-7 encoder over 4x-subsampled filterbank frames
 * with a CTC head, and a transducer made of an RWKV-7 prediction network and a joiner.
 *
 * Weight names (the training script in training/audio/ writes the same):
 *   encoder.stem.weight [d, 2 S F], encoder.stem.bias [d]   strided causal conv (kernel 2S, stride S)
 *   encoder.blocks.<i>.* (official RWKV-7 names, with blocks.0.ln0 applied first, as the
 *   official models apply it after the embedding), encoder.ln_out.{weight,bias} [d]
 *   ctc.weight [K V, d], ctc.bias [K V]   K CTC frames a step, each V logits (K = 1 unless trained wider)
 *   predictor.emb.weight [V, p], predictor.blocks.<i>.* (with blocks.0.ln0), predictor.ln_out.*
 *   joiner.enc.weight [j, d], joiner.enc.bias [j], joiner.pred.weight [j, p], joiner.pred.bias [j],
 *   joiner.out.weight [V, j], joiner.out.bias [V]
 *   vad.weight [1, d], vad.bias [1]   optional voice-activity head (logit of speech per step)
 */
export interface SpeechModelConfig {
  /** Filterbank bins per 10 ms frame (F, 80). */
  readonly featureDim: number;
  /** Frames per encoder step (S, the subsampling factor: 4, i.e. 40 ms a step). */
  readonly stack: number;
  /** Symbols (V, blank included). */
  readonly vocab: number;
  /** The encoder's RWKV-7 stack (its nEmbd is d). */
  readonly encoder: RwkvConfig;
  /** The prediction network's RWKV-7 stack (its nEmbd is p). */
  readonly predictor: RwkvConfig;
  /** Joiner hidden size (j). */
  readonly joinerDim: number;
  /**
   * CTC frames per encoder step (K; 1 when absent): a head trained with K = 2 gives the CTC
   * decoders 20 ms frames, room for doubled letters that 40 ms steps of character CTC lack.
   */
  readonly ctcFrames?: number;
}

/** CTC frames per encoder step of a config (1 unless it says otherwise). */
export function ctcFramesOf(config: SpeechModelConfig): number {
  return config.ctcFrames ?? 1;
}

/** The tensors of one part (prefix stripped), e.g. `encoder.blocks.0.att.key.weight` -> `blocks.0.att.key.weight`. */
export function subTensors(
  tensors: ReadonlyMap<string, HostTensor>,
  prefix: string,
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors)
    if (name.startsWith(`${prefix}.`)) out.set(name.slice(prefix.length + 1), t);
  return out;
}

/** A tensor that must exist with the given shape (typed errors naming it). */
export function requireTensor(
  tensors: ReadonlyMap<string, HostTensor>,
  name: string,
  shape: readonly number[],
): HostTensor {
  const t = tensors.get(name);
  if (!t) throw new MissingTensorError(`tensor '${name}' is required by the speech model`, { field: name });
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new ShapeMismatchError(
      `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
      {
        field: name,
      },
    );
  return t;
}

/** Checks that every non-RWKV tensor the graphs read is present with its shape. */
export function checkSpeechTensors(
  config: SpeechModelConfig,
  tensors: ReadonlyMap<string, HostTensor>,
): void {
  const { featureDim: F, stack: S, vocab: V, joinerDim: j } = config;
  const K = ctcFramesOf(config);
  const d = config.encoder.nEmbd;
  const p = config.predictor.nEmbd;
  const want: [string, number[]][] = [
    ['encoder.stem.weight', [d, 2 * S * F]],
    ['encoder.stem.bias', [d]],
    ['encoder.blocks.0.ln0.weight', [d]],
    ['encoder.blocks.0.ln0.bias', [d]],
    ['encoder.ln_out.weight', [d]],
    ['encoder.ln_out.bias', [d]],
    ['ctc.weight', [K * V, d]],
    ['ctc.bias', [K * V]],
    ['predictor.emb.weight', [V, p]],
    ['predictor.blocks.0.ln0.weight', [p]],
    ['predictor.blocks.0.ln0.bias', [p]],
    ['predictor.ln_out.weight', [p]],
    ['predictor.ln_out.bias', [p]],
    ['joiner.enc.weight', [j, d]],
    ['joiner.enc.bias', [j]],
    ['joiner.pred.weight', [j, p]],
    ['joiner.pred.bias', [j]],
    ['joiner.out.weight', [V, j]],
    ['joiner.out.bias', [V]],
  ];
  // the voice-activity head is optional, but whole and of the right shape when present
  if (tensors.has('vad.weight') || tensors.has('vad.bias'))
    want.push(['vad.weight', [1, d]], ['vad.bias', [1]]);
  for (const [name, shape] of want) requireTensor(tensors, name, shape);
}
