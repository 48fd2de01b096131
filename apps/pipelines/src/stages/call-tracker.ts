/**
 * Counts a model's calls in flight so it is disposed only once they have settled: after an
 * abort the stream is unsubscribed at once, but a model call already running cannot be
 * stopped, and freeing its session under it would crash onnxruntime.
 *
 * @module
 */

type AsyncFn = (...args: never[]) => Promise<unknown>;

/** Tracks the calls of the methods it wraps. */
export class CallTracker {
  private readonly pending = new Set<Promise<unknown>>();

  /** Replaces `methods` of `target` (own properties shadowing the prototype's) by tracked ones. */
  wrap<T extends object>(target: T, methods: readonly (keyof T)[]): void {
    for (const name of methods) {
      const original = target[name] as unknown as AsyncFn;
      const tracked = (...args: never[]) => {
        const call = original.apply(target, args);
        this.pending.add(call);
        const done = () => this.pending.delete(call);
        call.then(done, done);
        return call;
      };
      Object.defineProperty(target, name, { value: tracked, configurable: true, writable: true });
    }
  }

  /** Resolves once no tracked call is running (calls that start others are waited for too). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
      // a finished call's continuation may start the next call on the next turn
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
