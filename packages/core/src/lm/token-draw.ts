import { BadInputError } from '../errors.js';

/**
 * The token-drawing rule that every backend computes the same way, so a loop that draws
 * its tokens where the logits are (on the GPU: `RwkvSession.generate`) picks what the host
 * would pick from the same logits.
 *
 * Temperature sampling as Gumbel-max: token i scores logit_i / temperature + g_i, where
 * g_i = -ln(-ln(u_i)) and u_i is uniform in (0, 1), and the highest score wins; that
 * draws i with probability softmax(logits / temperature)_i, with one independent pass
 * over the logits and no sort or prefix sum (which is what makes it cheap on a GPU).
 * Temperature 0 is the argmax. Ties go to the lowest index; NaN logits never win.
 *
 * u_i comes from a counter-based hash of (seed, stream, step, i), not from a generator's
 * sequence, so any thread may compute any u_i:
 *
 *   mix(x)      = lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
 *   key         = mix(mix(mix(seed) ^ stream) ^ step)
 *   u_i         = ((mix(key ^ mix(i)) >> 9) + 0.5) / 2^23       (exact in float32: 24 bits)
 *
 * The host computes the score in float64 and a GPU in float32, so the two can disagree
 * only where two tokens' scores lie within float32 rounding of each other.
 */

/** What `drawToken` needs besides the logits. */
export interface TokenDrawOptions {
  /** 0 draws the argmax; otherwise logits are divided by it (default 1). */
  readonly temperature?: number;
  /** Seed of the draws (an unsigned 32-bit integer; default 0). */
  readonly seed?: number;
}

/** lowbias32: a 32-bit integer hash with good avalanche (Chris Wellons' search). */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The key of one stream's draw at one step (see the module's note). */
export function drawKey(seed: number, stream: number, step: number): number {
  return mix32((mix32((mix32(seed >>> 0) ^ stream) >>> 0) ^ step) >>> 0);
}

/**
 * u_i of a draw: uniform in (0, 1), an odd multiple of 2^-24. 23 bits of the hash, so that
 * u and its computation are exact in float32 (with 24 bits, m + 0.5 near 2^24 would round
 * to 2^24 there, and u to 1).
 */
export function drawUniform(key: number, index: number): number {
  return ((mix32((key ^ mix32(index >>> 0)) >>> 0) >>> 9) + 0.5) / 8388608;
}

/** Checks a temperature and seed, returning them with their defaults. */
export function checkDrawOptions(options: TokenDrawOptions): { temperature: number; seed: number } {
  const temperature = options.temperature ?? 1;
  const seed = options.seed ?? 0;
  if (!(temperature >= 0 && Number.isFinite(temperature)))
    throw new BadInputError(`temperature must be a finite number >= 0, got ${temperature}`, {
      field: 'temperature',
    });
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
    throw new BadInputError(`seed must be an integer in [0, 2^32), got ${seed}`, { field: 'seed' });
  return { temperature, seed };
}

/**
 * The token drawn from one row of logits for `stream` at `step` (the rule in the module's
 * note). Returns -1 only when every logit is NaN.
 */
export function drawToken(
  logits: ArrayLike<number>,
  temperature: number,
  seed: number,
  stream: number,
  step: number,
): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  const key = drawKey(seed, stream, step);
  for (let i = 0; i < logits.length; i++) {
    const logit = logits[i]!;
    if (Number.isNaN(logit)) continue;
    const score = temperature === 0 ? logit : logit / temperature - Math.log(-Math.log(drawUniform(key, i)));
    if (best < 0 || score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}
