/**
 * The `pcm` source: raw PCM (stdin or a file) as one audio item whose chunks arrive as read.
 *
 * @module
 */
import { decodePcm } from '@rwkv-streams/audio';
import { map, type Observable, of, takeUntil } from 'rxjs';
import type { AudioItem } from '../items.js';
import type { SourceSpec } from '../schema.js';
import { bytesOf, fromIterable, type StdinSource } from './stream-input.js';

/**
 * One item: the stream. `stop` ends the reading (a drain: what was read is still
 * transcribed), so a live microphone piped in can be stopped without losing its last words.
 */
export function pcmItems(
  spec: Extract<SourceSpec, { type: 'pcm' }>,
  stdin: StdinSource,
  stop: Observable<unknown>,
): Observable<AudioItem> {
  const name = spec.path === '-' ? '<stdin>' : spec.path;
  const chunks = fromIterable(bytesOf(spec.path, stdin)).pipe(
    takeUntil(stop),
    decodePcm({ encoding: spec.encoding, channels: spec.channels, source: name }),
    map((samples) => ({ samples, sampleRate: spec.sampleRate })),
  );
  return of({ kind: 'audio', index: 0, id: name, chunks });
}
