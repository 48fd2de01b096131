/**
 * @rwkv-streams/audio: streaming speech on rwkv-streams. Input (WAV through node-wav, raw
 * PCM chunks, libsamplerate resampling), the Kaldi log-mel filterbank computed
 * incrementally, the speech model (a causal RWKV-7 encoder with CTC and transducer heads),
 * CTC and transducer decoders with hotwords and endpointing, a sherpa-onnx-style
 * recognizer batching many streams, voice activity, and RxJS operators for each step.
 */

export { ContextGraph, type ContextState, type Hotword } from './decode/context-graph.js';
export { CtcGreedyDecoder } from './decode/ctc-greedy.js';
export { CTC_LEXICON_WEIGHTS } from './decode/ctc-lexicon-weights.js';
export { type CtcBeamOptions, CtcPrefixBeamSearch } from './decode/ctc-prefix-beam.js';
export {
  DEFAULT_ENDPOINT_CONFIG,
  type EndpointConfig,
  type EndpointRule,
  endpointConfig,
  isEndpoint,
} from './decode/endpoint.js';
export { findLexiconBeside, LEXICON_FILE_NAMES } from './decode/lexicon-beside.js';
export { looksLikeBinaryLexicon } from './decode/lexicon-binary.js';
export { checkFrameScores, type DecodedToken, type FrameScores, logSoftmaxRow } from './decode/tokens.js';
export type { Joiner, PredictionNetwork } from './decode/transducer.js';
export { type TransducerBeamOptions, TransducerModifiedBeamSearch } from './decode/transducer-beam.js';
export { TransducerGreedySearch } from './decode/transducer-greedy.js';
export { BLANK, CharVocabulary, normalizeText } from './decode/vocabulary.js';
export {
  type BigramCounts,
  type LexiconState,
  readBigramFile,
  type TrigramCounts,
  WordLexicon,
  type WordLexiconOptions,
} from './decode/word-lexicon.js';
export { type TimedWord, timedWords } from './decode/words.js';
export { type ActivityLabelOptions, activityLabels } from './eval/activity-labels.js';
export { measureRealTimeFactor, syntheticSpeechChunk, warmUpRecognizer } from './eval/real-time-factor.js';
export { type WordErrorCount, wordErrors } from './eval/word-errors.js';
export { computeFbank, FbankComputer, LOG_FLOOR, type SampleArray } from './features/fbank.js';
export {
  type FbankOptions,
  numFrames,
  type ResolvedFbankOptions,
  resolveFbankOptions,
} from './features/fbank-options.js';
export { RealPowerSpectrum } from './features/fft.js';
export { kaldiMelBanks, type MelFilter, melScale } from './features/mel-banks.js';
export { type FeatureFrame, StreamingFbank } from './features/streaming-fbank.js';
export { poveyWindow } from './features/window.js';
export { type LoadedAudio, type LoadWavOptions, loadWav } from './input/load-wav.js';
export { type ByteChunk, PcmDecoder, type PcmDecoderOptions, type PcmEncoding } from './input/pcm-decoder.js';
export {
  Resampler,
  type ResamplerOptions,
  type ResamplerQuality,
  resampleAll,
  resolveResamplerOptions,
} from './input/resampler.js';
export { decodeWav, mixToMono, readWav, type WavAudio } from './input/wav.js';
export { readWavLayout, type WavFormat, type WavLayout, type WavLayoutOptions } from './input/wav-layout.js';
export { loadSpeechModel, SPEECH_MODEL_FILE, speechConfigOfWeights } from './model/load-speech-model.js';
export { type RandomSpeechSizes, randomSpeechWeights } from './model/random-speech-weights.js';
export { checkSpeechTensors, type SpeechModelConfig } from './model/speech-config.js';
export { buildEncoderGraph, buildJoinerGraph, buildPredictorGraph } from './model/speech-graphs.js';
export {
  type EncoderResult,
  type EncoderState,
  SpeechModel,
  type SpeechModelOptions,
} from './model/speech-model.js';
export type { BadChunkPolicy } from './operators/bad-chunk.js';
export { type DecodePcmOptions, decodePcm } from './operators/decode-pcm.js';
export { type DetectSpeechOptions, detectSpeech } from './operators/detect-speech.js';
export { type FbankOperatorOptions, fbank } from './operators/fbank.js';
export { type ResampleOperatorOptions, resample } from './operators/resample.js';
export {
  type AudioChunk,
  type TranscribeOptions,
  type TranscriptEvent,
  transcribe,
} from './operators/transcribe.js';
export {
  CLEAN_START_LEADING_SILENCE,
  DEFAULT_LEADING_SILENCE,
  encoderStateAfterSilence,
} from './recognizer/leading-silence.js';
export { type LexiconWeights, lexiconWeightsFor } from './recognizer/lexicon-weights.js';
export type { DecodingMethod, RecognizerOptions } from './recognizer/recognizer-options.js';
export { type RecognitionResult, RecognizerStream } from './recognizer/recognizer-stream.js';
export { SpeechRecognizer } from './recognizer/speech-recognizer.js';
export type { FrameVad } from './vad/frame-vad.js';
export { RwkvVad, type RwkvVadOptions } from './vad/rwkv-vad.js';
export { type SegmenterOptions, type SpeechSegment, SpeechSegmenter } from './vad/speech-segmenter.js';
export { WebRtcVad, type WebRtcVadOptions } from './vad/webrtc-vad.js';
