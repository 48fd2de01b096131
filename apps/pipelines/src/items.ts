/**
 * What flows from a source into the stages: one item per image, audio stream or
 * observation, each with its position in the source and an id for the records.
 *
 * @module
 */
import type { AudioChunk } from '@rwkv-streams/audio';
import type { Observable } from 'rxjs';

interface ItemBase {
  /** Position in the source, from 0. */
  readonly index: number;
  /** How records name it: a path as written, or `key@time` for an observation. */
  readonly id: string;
}

/** An image file. */
export interface ImageItem extends ItemBase {
  readonly kind: 'image';
  readonly path: string;
}

/** Audio: a WAV file, or a stream of chunks (raw PCM from stdin or a file). */
export interface AudioItem extends ItemBase {
  readonly kind: 'audio';
  readonly path?: string;
  readonly chunks?: Observable<AudioChunk>;
}

/** One row of a series: its key, its time (ms since the epoch, or the row number), a value per channel. */
export interface ObservationItem extends ItemBase {
  readonly kind: 'observation';
  readonly key: string;
  readonly timestamp: number;
  /** Whether `timestamp` is a time (ms since the epoch) rather than a row number. */
  readonly isTime: boolean;
  readonly values: Float32Array;
}

/** Any source item. */
export type PipelineItem = ImageItem | AudioItem | ObservationItem;

/** An observation's time as records show it: ISO 8601 for times, the number for row numbers. */
export const timeLabel = (o: Pick<ObservationItem, 'timestamp' | 'isTime'>): string | number =>
  o.isTime ? new Date(o.timestamp).toISOString() : o.timestamp;
