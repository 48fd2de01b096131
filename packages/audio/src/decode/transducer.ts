/**
 * What transducer decoding needs from a model: a prediction network that carries its own
 * state from symbol to symbol (ours is a small RWKV), and a joiner that scores one encoder
 * frame against prediction-network outputs. Both are batched over hypotheses, because
 * beam search advances many at once (and many streams share one model).
 */
export interface PredictionNetwork<S> {
  /** The state and output before any symbol of an utterance. */
  start(): Promise<{ readonly state: S; readonly out: Float32Array }>;
  /** One symbol for each hypothesis: feeds `tokens[i]` from `states[i]`. */
  step(
    states: readonly S[],
    tokens: readonly number[],
  ): Promise<{ readonly states: readonly S[]; readonly outs: readonly Float32Array[] }>;
}

/** Scores one encoder frame against each prediction-network output: logits over the vocabulary. */
export interface Joiner {
  join(encoderFrame: Float32Array, predictions: readonly Float32Array[]): Promise<readonly Float32Array[]>;
}
