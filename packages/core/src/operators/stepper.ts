/**
 * The contract between the RxJS operators and whatever runs a model. An operator never
 * sees a backend or a graph: it sees something that turns a batch of (input, state)
 * pairs into (output, next state) pairs. Language models, speech encoders and
 * forecasters all present themselves this way, so one set of operators serves them.
 */
export interface StepItem<I, S> {
  /** The input for one stream (a chunk of tokens, feature frames, observations). */
  readonly input: I;
  /** That stream's state before this input. Never mutated by `step`. */
  readonly state: S;
}

/** The result for one stream of a batch. */
export interface StepResult<O, S> {
  /** The model's output for this item. */
  readonly output: O;
  /** The stream's state after this input. */
  readonly state: S;
}

/**
 * A stateful model that can advance many independent streams in one call.
 *
 * Operators such as `runStateful` own the states they get from `initialState` and `step`
 * and hand each one to `releaseState` exactly once, never while a `step` that reads it is
 * in flight.
 *
 * @example
 * ```ts
 * // A running sum: the state is the total so far, the output the new total.
 * const summer: BatchStepper<number, number, number> = {
 *   initialState: () => 0,
 *   step: async (batch) => batch.map(({ input, state }) => ({ output: state + input, state: state + input })),
 * };
 * ```
 */
export interface BatchStepper<I, O, S> {
  /** A fresh state for a new stream. */
  initialState(): S;
  /**
   * Advances each item's stream by its input. Items are independent: the result for
   * item i depends only on item i's input and state. Results come back in order.
   */
  step(batch: readonly StepItem<I, S>[]): Promise<StepResult<O, S>[]>;
  /**
   * Checks one input before it joins a batch, throwing a typed error if it is invalid
   * (optional). Operators call it per item, so one bad input fails alone instead of
   * failing the batch it would have joined.
   */
  validateInput?(input: I): void;
  /** Frees the resources of one stream's state (optional: states may be plain values). */
  releaseState?(state: S): void;
}
