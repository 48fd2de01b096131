import {
  addRwkvBlocks,
  BATCH,
  type Dim,
  type Graph,
  GraphBuilder,
  type HostTensor,
  TIME,
  type Value,
} from '@rwkv-streams/core';
import { type SpeechModelConfig, subTensors } from './speech-config.js';

/** Graph input holding the previous step's frame group (the stem's left context). */
export const STEM_STATE = 'state.stem';
/** Graph output of the last frame group (the next call's `state.stem`). */
export const STEM_STATE_OUT = 'state_out.stem';

const weight = (b: GraphBuilder, tensors: ReadonlyMap<string, HostTensor>, name: string): Value =>
  b.weight(name, tensors.get(name)!);

/**
 * The encoder over `groups` [B, T, S F] (S filterbank frames of F bins per step, 40 ms at
 * S = 4): a strided causal convolution (kernel 2S frames, stride S: each step sees its own
 * group and the previous one, carried as `state.stem`), ReLU, layer norm, the RWKV-7
 * blocks (state carried per layer), a final layer norm. Outputs `encoder_out` [B, T, d]
 * and the CTC head's `ctc_logits` [B, T, K V] (K CTC frames a step, laid out as [B, T K, V]), and, when the weights have a voice-activity head
 * (`vad.weight` [1, d], `vad.bias` [1]), its `vad_logits` [B, T, 1] (logit of "speech" per
 * step). With `time` = 1 it is the per-step graph;
 * with TIME, any number of steps at once: both compute the same function.
 */
export function buildEncoderGraph(
  config: SpeechModelConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  time: Dim,
): Graph {
  const { featureDim: F, stack: S } = config;
  const b = new GraphBuilder(`speech-encoder-${time === 1 ? 'step' : 'chunk'}`);
  const groups = b.input('groups', 'float32', [BATCH, time, S * F]);
  const prev = b.input(STEM_STATE, 'float32', [BATCH, S * F]);
  const prev3 = b.reshape(prev, [BATCH, 1, S * F]);
  const shifted = time === 1 ? prev3 : b.concat([prev3, b.slice(groups, 1, 0, -1, `${String(time)}-1`)], 1);
  const window = b.concat([b.reshape(shifted, [BATCH, time, S * F]), groups], 2);
  const stem = b.add(
    b.linear(window, weight(b, tensors, 'encoder.stem.weight')),
    weight(b, tensors, 'encoder.stem.bias'),
  );
  let x = b.layerNorm(
    b.relu(stem),
    weight(b, tensors, 'encoder.blocks.0.ln0.weight'),
    weight(b, tensors, 'encoder.blocks.0.ln0.bias'),
    1e-5,
  );
  x = addRwkvBlocks(b, config.encoder, subTensors(tensors, 'encoder'), x, time);
  x = b.layerNorm(
    x,
    weight(b, tensors, 'encoder.ln_out.weight'),
    weight(b, tensors, 'encoder.ln_out.bias'),
    1e-5,
  );
  b.output('encoder_out', x);
  b.output(
    'ctc_logits',
    b.add(b.linear(x, weight(b, tensors, 'ctc.weight')), weight(b, tensors, 'ctc.bias')),
  );
  if (tensors.has('vad.weight'))
    b.output(
      'vad_logits',
      b.add(b.linear(x, weight(b, tensors, 'vad.weight')), weight(b, tensors, 'vad.bias')),
    );
  const last = time === 1 ? groups : b.slice(groups, 1, -1, 2 ** 31 - 1, 1);
  b.output(STEM_STATE_OUT, b.reshape(last, [BATCH, S * F]));
  return b.build();
}

/**
 * The prediction network, one symbol per hypothesis: `tokens` [B, 1] (int32; the blank
 * starts an utterance) -> embedding, layer norm, RWKV-7 blocks (state carried), layer norm
 * -> the joiner's projection of it, `pred_joiner` [B, 1, J] = W_p pred + b_p (the joiner's
 * prediction half, computed here batched once per emitted symbol; see `buildJoinerGraph`).
 */
export function buildPredictorGraph(
  config: SpeechModelConfig,
  tensors: ReadonlyMap<string, HostTensor>,
): Graph {
  const b = new GraphBuilder('speech-predictor');
  const tokens = b.input('tokens', 'int32', [BATCH, 1]);
  let x = b.gather(weight(b, tensors, 'predictor.emb.weight'), tokens);
  x = b.layerNorm(
    x,
    weight(b, tensors, 'predictor.blocks.0.ln0.weight'),
    weight(b, tensors, 'predictor.blocks.0.ln0.bias'),
    1e-5,
  );
  x = addRwkvBlocks(b, config.predictor, subTensors(tensors, 'predictor'), x, 1);
  x = b.layerNorm(
    x,
    weight(b, tensors, 'predictor.ln_out.weight'),
    weight(b, tensors, 'predictor.ln_out.bias'),
    1e-5,
  );
  b.output(
    'pred_joiner',
    b.add(b.linear(x, weight(b, tensors, 'joiner.pred.weight')), weight(b, tensors, 'joiner.pred.bias')),
  );
  return b.build();
}

/**
 * The joiner out(tanh(W_e enc + b_e + W_p pred + b_p)) in its split form (sherpa-onnx's
 * encoder_proj / decoder_proj): `pred` [B, J] arrives projected (`pred_joiner` of the
 * prediction network, once per emitted symbol), and the encoder frame is projected once per
 * frame. With `projectFrame` the graph takes the raw frame `enc` [1, d] and also outputs its
 * projection `enc_proj` [1, J]; without, it takes `enc_proj` (a beam search joins a frame once
 * per expansion, the later ones with the projection the first gave). Out: `logits` [B, V].
 * The whole joiner as one graph projected the frame and every prediction again at every
 * call: 16 hypotheses at the shipped sizes were 1.7 M multiply-adds a call, now 0.12 M (plus
 * 65 K for a new frame).
 */
export function buildJoinerGraph(
  config: SpeechModelConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  projectFrame: boolean,
): Graph {
  const J = config.joinerDim;
  const b = new GraphBuilder(projectFrame ? 'speech-joiner-frame' : 'speech-joiner');
  const pred = b.input('pred', 'float32', [BATCH, J]);
  let e: Value;
  if (projectFrame) {
    const enc = b.input('enc', 'float32', [1, config.encoder.nEmbd]);
    e = b.add(b.linear(enc, weight(b, tensors, 'joiner.enc.weight')), weight(b, tensors, 'joiner.enc.bias'));
    b.output('enc_proj', e);
  } else e = b.input('enc_proj', 'float32', [1, J]);
  const h = b.tanh(b.add(pred, e));
  b.output(
    'logits',
    b.add(b.linear(h, weight(b, tensors, 'joiner.out.weight')), weight(b, tensors, 'joiner.out.bias')),
  );
  return b.build();
}

export { TIME };
