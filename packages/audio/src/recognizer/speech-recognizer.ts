import { RwkvState } from '@rwkv-streams/core';
import { ContextGraph } from '../decode/context-graph.js';
import { CharVocabulary, normalizeText } from '../decode/vocabulary.js';
import type { SpeechModel } from '../model/speech-model.js';
import type { RecognizerOptions } from './recognizer-options.js';
import { RecognizerStream } from './recognizer-stream.js';

/**
 * A streaming speech recognizer over one speech model (sherpa-onnx's OnlineRecognizer):
 * `createStream` for each audio source; `decodeStreams` advances many streams with ONE
 * encoder call per round (their states stacked into a batch, then split again), so
 * concurrent streams share the model without cross-talk.
 */
export class SpeechRecognizer {
  /** The alphabet of the model's symbols. */
  readonly vocab = new CharVocabulary();
  private readonly hotwords: ContextGraph | undefined;

  constructor(
    readonly model: SpeechModel,
    private readonly options: RecognizerOptions = {},
  ) {
    const words = (options.hotwords ?? []).map(normalizeText).filter((w) => w.length > 0);
    this.hotwords = words.length
      ? new ContextGraph(
          words.map((w) => ({ tokens: this.vocab.encode(w) })),
          options.hotwordsScore ?? 1.5,
        )
      : undefined;
  }

  /** A new stream (its own encoder state, decoder and endpointing). */
  createStream(): RecognizerStream {
    return new RecognizerStream(this.model, this.vocab, this.options, this.hotwords);
  }

  private queued: { stream: RecognizerStream; done: () => void; fail: (e: unknown) => void }[] = [];

  /**
   * Decodes `stream` together with every other stream whose decode was asked for in the
   * same turn of the event loop: independent pipelines sharing this recognizer are
   * batched through one encoder call without coordinating.
   */
  decodeSoon(stream: RecognizerStream): Promise<void> {
    return new Promise((done, fail) => {
      if (this.queued.length === 0)
        setImmediate(() => {
          const batch = this.queued;
          this.queued = [];
          this.decodeStreams([...new Set(batch.map((q) => q.stream))]).then(
            () => {
              for (const q of batch) q.done();
            },
            (e: unknown) => {
              for (const q of batch) q.fail(e);
            },
          );
        });
      this.queued.push({ stream, done, fail });
    });
  }

  /**
   * Decodes every ready stream: rounds of one batched encoder call over the streams that
   * still have steps waiting (as many steps each as the one with the fewest), then each
   * stream's decoder on its rows.
   */
  async decodeStreams(streams: readonly RecognizerStream[]): Promise<void> {
    const { encoder } = this.model.config;
    for (;;) {
      const ready = streams.filter((s) => s.isReady());
      if (ready.length === 0) return;
      if (ready.length === 1) {
        await ready[0]!.decode();
        continue;
      }
      await Promise.all(ready.map((s) => s.prime()));
      const steps = Math.min(...ready.map((s) => s.readySteps));
      const inputs = ready.map((s) => s.takeSteps(steps));
      const groups = new Float32Array(inputs.reduce((n, x) => n + x.length, 0));
      let at = 0;
      for (const x of inputs) {
        groups.set(x, at);
        at += x.length;
      }
      const stemLen = ready[0]!.encoderState.stem.length;
      const stem = new Float32Array(stemLen * ready.length);
      ready.forEach((s, i) => {
        stem.set(s.encoderState.stem, i * stemLen);
      });
      const r = await this.model.encode(groups, steps, {
        stem,
        rwkv: RwkvState.stack(ready.map((s) => s.encoderState.rwkv)),
      });
      const rwkv = r.state.rwkv.unstack();
      const d = encoder.nEmbd;
      const ctcPerStep = this.model.config.vocab * this.model.ctcFrames; // K frames of V logits
      for (let i = 0; i < ready.length; i++) {
        const s = ready[i]!;
        s.encoderState = { stem: r.state.stem.slice(i * stemLen, (i + 1) * stemLen), rwkv: rwkv[i]! };
        await s.consume(
          r.encoderOut.slice(i * steps * d, (i + 1) * steps * d),
          r.ctcLogits.slice(i * steps * ctcPerStep, (i + 1) * steps * ctcPerStep),
          steps,
          r.vadLogits?.slice(i * steps, (i + 1) * steps),
        );
      }
    }
  }
}
