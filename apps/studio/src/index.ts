/**
 * @rwkv-streams/studio: the local web studio (`rwkv-streams serve`): images classified or
 * segmented, speech transcribed live over a WebSocket, CSV series forecast on a chart, and
 * every stage's live figures, over the models we ship.
 */

export type {
  ApiError,
  ClassifyResponse,
  ForecastResponse,
  MetricsResponse,
  SegmentResponse,
  SpeechClientMessage,
  SpeechServerMessage,
  StudioConfig,
} from './protocol.js';
export { DEFAULT_LIMITS, type StudioLimits } from './server/limits.js';
export { SHIPPED_MODELS_DIR, STUDIO_MODEL_FOLDERS } from './server/models.js';
export { type StudioOptions, type StudioServer, startStudio } from './server/studio.js';
