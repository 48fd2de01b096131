import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DecodingMethod,
  findLexiconBeside,
  lexiconWeightsFor,
  loadSpeechModel,
  type SpeechModel,
  SpeechRecognizer,
  WordLexicon,
} from '@rwkv-streams/audio';
import { FileNotFoundError } from '@rwkv-streams/core';
import { type ForecastModel, loadForecastModel } from '@rwkv-streams/timeseries';
import {
  classPalette,
  loadVrwkvSegmenter,
  loadVrwkvWeights,
  type Rgb,
  readVisionModelCard,
  type VisionModelCard,
  VrwkvModel,
  VrwkvSegmenter,
} from '@rwkv-streams/vision';

/** The models folder of this repository (works from src/ and dist/: both sit two levels below the package). */
export const SHIPPED_MODELS_DIR = fileURLToPath(new URL('../../../../models/', import.meta.url));

/** The folders, under the models directory, of the models each page uses. */
export const STUDIO_MODEL_FOLDERS = {
  classify: 'vrwkv-fashion-mnist',
  segment: 'vrwkv-mnist-scenes',
  forecast: 'rwkv-ts-etth1-96',
  speech: 'rwkv-speech-en-synth',
} as const;

/** What the vision pages need from a model folder's config.json. */
export type VisionCard = VisionModelCard;

/** A loaded image classifier and its card. */
export interface Classifier {
  readonly model: VrwkvModel;
  readonly card: VisionCard;
}

/** A loaded segmenter, its card and the colour of each class. */
export interface Segmenter {
  readonly model: VrwkvSegmenter;
  readonly card: VisionCard;
  readonly palette: readonly Rgb[];
}

const readVisionCard = (dir: string): VisionCard => readVisionModelCard(join(dir, 'config.json'));

function requireFile(file: string): string {
  if (!existsSync(file)) throw new FileNotFoundError('model file not found', { file });
  return file;
}

/**
 * The studio's models, each loaded on first use and then shared by every request (one
 * model and one compiled graph per kind, however many pages use it). A load that fails
 * is forgotten, so the next request tries again (a model folder fixed meanwhile works).
 */
export class StudioModels {
  private readonly loading = new Map<string, Promise<unknown>>();

  constructor(
    /** The folder holding the model folders (STUDIO_MODEL_FOLDERS). */
    readonly dir: string = SHIPPED_MODELS_DIR,
  ) {}

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.loading.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.loading.set(key, p);
      p.catch(() => this.loading.delete(key));
    }
    return p;
  }

  /** The Fashion-MNIST classifier. */
  classifier(): Promise<Classifier> {
    return this.once('classify', async () => {
      const dir = join(this.dir, STUDIO_MODEL_FOLDERS.classify);
      const card = readVisionCard(dir);
      const { config, tensors } = loadVrwkvWeights(requireFile(join(dir, 'model.safetensors')));
      return { model: new VrwkvModel(config, tensors), card };
    });
  }

  /** The MNIST-scenes segmenter. */
  segmenter(): Promise<Segmenter> {
    return this.once('segment', async () => {
      const dir = join(this.dir, STUDIO_MODEL_FOLDERS.segment);
      const card = readVisionCard(dir);
      const { config, tensors } = loadVrwkvSegmenter(requireFile(join(dir, 'model.safetensors')));
      return {
        model: new VrwkvSegmenter(config, tensors),
        card,
        palette: classPalette(config.numClasses, card.background),
      };
    });
  }

  /** The ETTh1 forecaster (96 rows ahead from 336). */
  forecaster(): Promise<ForecastModel> {
    return this.once('forecast', async () =>
      loadForecastModel(join(this.dir, STUDIO_MODEL_FOLDERS.forecast)),
    );
  }

  private speechModel(): Promise<SpeechModel> {
    return this.once('speech', () =>
      loadSpeechModel(requireFile(join(this.dir, STUDIO_MODEL_FOLDERS.speech))),
    );
  }

  /**
   * A recognizer per decoding method, over the one speech model (concurrent sessions of a
   * method are batched through one encoder call by the recognizer). The beam searches get
   * the model's word list (`words.lex` or `words.tsv`) when it has one.
   */
  recognizer(method: DecodingMethod): Promise<SpeechRecognizer> {
    return this.once(`recognizer:${method}`, async () => {
      const model = await this.speechModel();
      const words = findLexiconBeside(join(this.dir, STUDIO_MODEL_FOLDERS.speech));
      const beam = method === 'ctc-beam' || method === 'transducer-beam';
      const lexicon = beam && words ? WordLexicon.fromFile(words, lexiconWeightsFor(method)) : undefined;
      return new SpeechRecognizer(model, {
        decodingMethod: method,
        endpoint: true,
        ...(lexicon ? { lexicon } : {}),
      });
    });
  }

  /** Releases every model loaded (their compiled graphs). */
  async dispose(): Promise<void> {
    const loaded = await Promise.allSettled([...this.loading.values()]);
    this.loading.clear();
    for (const r of loaded) {
      if (r.status !== 'fulfilled') continue;
      const v = r.value as { model?: { dispose?: () => Promise<void> }; dispose?: () => Promise<void> };
      // Recognizers share the speech model, which is disposed once under its own key.
      if (v instanceof SpeechRecognizer) continue;
      if (typeof v.dispose === 'function') await v.dispose();
      else if (v.model && typeof v.model.dispose === 'function') await v.model.dispose();
    }
  }
}
