import { speechConfigOfWeights } from '@rwkv-streams/audio';
import type { WeightFile } from '@rwkv-streams/core';

/** Whether weights are an exported speech model (training/audio/export_asr.py writes this metadata). */
export function isSpeechModel(file: WeightFile): boolean {
  return file.metadata['format'] === 'rwkv-streams-speech';
}

/** `rwkv-streams info` for a speech model: its parts' sizes, heads, parameters, stored precision. */
export function describeSpeechModel(path: string, file: WeightFile): Record<string, unknown> {
  const c = speechConfigOfWeights(file);
  const stored = new Map<string, number>();
  let parameters = 0;
  for (const t of file.tensors.values()) {
    parameters += t.data.length;
    stored.set(t.storedAs, (stored.get(t.storedAs) ?? 0) + t.data.length);
  }
  const rwkv = (r: typeof c.encoder) => ({
    version: String(r.version),
    layers: r.nLayer,
    embedding: r.nEmbd,
    ffn: r.dimFfn,
    heads: r.nHead,
    headSize: r.headSize,
  });
  return {
    file: path,
    format: file.format,
    kind: 'speech',
    featureDim: c.featureDim,
    framesPerStep: c.stack,
    vocabulary: c.vocab,
    encoder: rwkv(c.encoder),
    predictor: rwkv(c.predictor),
    joiner: c.joinerDim,
    ctcFramesPerStep: c.ctcFrames ?? 1,
    voiceActivityHead: file.tensors.has('vad.weight'),
    parameters,
    storedAs: Object.fromEntries(stored),
  };
}
