import { BadInputError } from '@rwkv-streams/core';

/** One endpoint rule, with sherpa-onnx's (and Kaldi's) meaning. */
export interface EndpointRule {
  /** The rule applies only if something was decoded in the utterance. */
  readonly mustContainNonSilence: boolean;
  /** Trailing silence (seconds of frames without a symbol) needed. */
  readonly minTrailingSilence: number;
  /** Utterance length (seconds since the utterance began) needed. */
  readonly minUtteranceLength: number;
}

/** The three rules; an endpoint is detected when any one holds. */
export interface EndpointConfig {
  readonly rule1: EndpointRule;
  readonly rule2: EndpointRule;
  readonly rule3: EndpointRule;
}

/**
 * sherpa-onnx's defaults: rule 1, 2.4 s of silence even if nothing was said; rule 2, 1.2 s
 * of silence after speech; rule 3, any utterance reaching 20 s.
 */
export const DEFAULT_ENDPOINT_CONFIG: EndpointConfig = {
  rule1: { mustContainNonSilence: false, minTrailingSilence: 2.4, minUtteranceLength: 0 },
  rule2: { mustContainNonSilence: true, minTrailingSilence: 1.2, minUtteranceLength: 0 },
  rule3: { mustContainNonSilence: false, minTrailingSilence: 0, minUtteranceLength: 20 },
};

/** Merges partial overrides into the defaults and checks every value. */
export function endpointConfig(
  overrides: {
    readonly rule1?: Partial<EndpointRule>;
    readonly rule2?: Partial<EndpointRule>;
    readonly rule3?: Partial<EndpointRule>;
  } = {},
): EndpointConfig {
  const out = {} as Record<keyof EndpointConfig, EndpointRule>;
  for (const name of ['rule1', 'rule2', 'rule3'] as const) {
    const rule = { ...DEFAULT_ENDPOINT_CONFIG[name], ...overrides[name] };
    for (const field of ['minTrailingSilence', 'minUtteranceLength'] as const)
      if (!(rule[field] >= 0))
        throw new BadInputError(`${name}.${field} must be a number of seconds >= 0, got ${rule[field]}`, {
          field: `${name}.${field}`,
        });
    out[name] = rule;
  }
  return out;
}

/**
 * Whether an utterance has ended: `utteranceSeconds` since it began, the last
 * `trailingSilenceSeconds` of them without a decoded symbol. As in sherpa-onnx, an utterance
 * "contains non-silence" when it is longer than its trailing silence.
 */
export function isEndpoint(
  config: EndpointConfig,
  utteranceSeconds: number,
  trailingSilenceSeconds: number,
): boolean {
  const containsSpeech = utteranceSeconds > trailingSilenceSeconds;
  return [config.rule1, config.rule2, config.rule3].some(
    (r) =>
      (containsSpeech || !r.mustContainNonSilence) &&
      trailingSilenceSeconds >= r.minTrailingSilence &&
      utteranceSeconds >= r.minUtteranceLength,
  );
}
