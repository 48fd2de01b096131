import { DisposedError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import type { CompiledGraph, CompileOptions, Device } from './backend.js';
import { backendFor, defaultDevice } from './registry.js';

/**
 * Compiled graphs of one model, one per key (an image's patch grid, a series' channel
 * count...), built and compiled on first use on the model's device and kept until
 * `dispose`. A compilation that fails is forgotten, so a later call can try again.
 */
export class CompiledGraphCache<K> {
  private readonly compiled = new Map<K, Promise<CompiledGraph>>();
  private disposed = false;
  /** The device graphs are compiled for. */
  readonly device: Device;

  constructor(
    private readonly what: string,
    private readonly options: Omit<CompileOptions, 'device'> & { readonly device?: Device } = {},
  ) {
    this.device = options.device ?? defaultDevice();
    backendFor(this.device); // a device nobody serves fails here, at construction
  }

  /** The compiled graph of `key`, building it with `build` the first time. */
  get(key: K, build: () => Graph): Promise<CompiledGraph> {
    if (this.disposed) return Promise.reject(new DisposedError(this.what));
    let c = this.compiled.get(key);
    if (!c) {
      c = Promise.resolve().then(() =>
        backendFor(this.device).compile(build(), { ...this.options, device: this.device }),
      );
      this.compiled.set(key, c);
      c.catch(() => this.compiled.delete(key));
    }
    return c;
  }

  /** Frees every compiled graph; later `get`s fail with DisposedError. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.compiled.values()];
    this.compiled.clear();
    for (const c of all) await (await c.catch(() => undefined))?.dispose();
  }
}
