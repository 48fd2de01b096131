import type { EndpointConfig } from '../decode/endpoint.js';
import type { WordLexicon } from '../decode/word-lexicon.js';

/** How a recognizer turns model outputs into text. */
export type DecodingMethod = 'ctc-greedy' | 'ctc-beam' | 'transducer-greedy' | 'transducer-beam';

/** Options of a speech recognizer (sherpa-onnx's names where they exist). */
export interface RecognizerOptions {
  /** Default 'transducer-greedy'. */
  readonly decodingMethod?: DecodingMethod;
  /**
   * A word language model fused into the beam searches (`WordLexicon`, e.g. from the
   * `words.tsv` shipped beside the model).
   */
  readonly lexicon?: WordLexicon;
  /**
   * Transducer searches (greedy and beam): symbols they may emit per encoder step (default 3). Characters
   * can come faster than the 25 steps a second of a 4x-subsampled encoder, so one per step
   * (sherpa-onnx's greedy rule) loses some: measured with the shipped model on 300 held-out
   * voice utterances, 62.8% WER at 1, 45.8% at 3 (training/audio/runs/2026-12-03-train-asr.log).
   */
  readonly maxSymbolsPerFrame?: number;
  /** Hypotheses the beam searches keep (default: transducer beam search 4, CTC prefix beam search 8). */
  readonly beam?: number;
  /** Words or phrases to boost in beam search (normalized to the alphabet). */
  readonly hotwords?: readonly string[];
  /** Bonus per matched character of a hotword (default 1.5, log-probability units). */
  readonly hotwordsScore?: number;
  /**
   * Encoder steps (40 ms each) a stream waits for before it is decoded (default 4: 160 ms).
   * Each encoder call has a fixed cost, so larger chunks cost less per second of audio
   * (measured on the 8 x 256 encoder, one CPU thread: 3.1 ms a call for 1 step, 7.8 ms for
   * 8); smaller ones show partial results sooner. The end of the input is always decoded.
   */
  readonly chunkSteps?: number;
  /** Endpoint detection: off unless given (`true` for sherpa-onnx's default rules). */
  readonly endpoint?: boolean | EndpointConfig;
  /**
   * What the endpoint rules' "trailing silence" counts: `'blanks'`, encoder steps without a
   * decoded symbol (sherpa-onnx's definition); `'vad'`, steps the model's voice-activity head
   * calls non-speech (robust when noise makes the decoder emit stray symbols; needs the head);
   * `'auto'` (default), the head when the model has one.
   */
  readonly endpointSilence?: 'auto' | 'vad' | 'blanks';
  /**
   * Seconds of digital silence each stream's encoder has heard when its audio starts
   * (default 0: a fresh zero state). From a zero state the shipped model often misses the
   * first word of clean speech that starts at once; 0.5 (`CLEAN_START_LEADING_SILENCE`)
   * fixes that, but makes noisy audio worse (greedy WER at 10 dB SNR 25.0% -> 31.0% on the
   * dev set): see `recognizer/leading-silence.ts` for the measurements. The state after
   * silence is computed once per model; times in results are not shifted.
   */
  readonly leadingSilence?: number;
}
