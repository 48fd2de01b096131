/**
 * The error policy shared by the audio operators.
 *
 * @module
 */
import { BadInputError, RwkvError } from '@rwkv-streams/core';

/**
 * What an operator does with a chunk it must refuse (wrong type, non-finite samples, or, at
 * the end of a PCM stream, an incomplete last frame):
 * - `'error'` (default): the output errors with the typed error; the stream ends.
 * - `'skip'`: the chunk is dropped as if it had never come (the operator's state is
 *   unchanged: a PCM decoder keeps the bytes of a split sample, a filterbank keeps its frame
 *   clock) and the stream goes on.
 * - a function: like `'skip'`, and the function is told (the error names the chunk, the
 *   field and the byte offset or sample index).
 *
 * Only errors about one chunk are subject to the policy; an error of the source, or one that
 * is not an {@link RwkvError}, always ends the stream.
 */
export type BadChunkPolicy = 'error' | 'skip' | ((error: RwkvError, chunkIndex: number) => void);

/**
 * Applies `policy` to `error` raised by chunk `index`. Returns true when the stream goes on.
 *
 * @internal
 */
export function survives(policy: BadChunkPolicy, error: unknown, index: number): boolean {
  if (!(error instanceof RwkvError) || policy === 'error') return false;
  if (typeof policy === 'function') policy(error, index);
  return true;
}

/**
 * Checks a policy option.
 *
 * @throws {@link BadInputError} naming `onBadChunk`.
 * @internal
 */
export function checkPolicy(operator: string, policy: unknown): BadChunkPolicy {
  if (policy === undefined) return 'error';
  if (policy === 'error' || policy === 'skip' || typeof policy === 'function')
    return policy as BadChunkPolicy;
  throw new BadInputError(
    `${operator}: onBadChunk must be 'error', 'skip' or a function, got ${String(policy)}`,
    {
      field: 'onBadChunk',
    },
  );
}
