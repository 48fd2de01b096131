/**
 * A FIFO of float values (filterbank frames waiting for a whole encoder step): appends
 * and takes from the front without copying the whole queue each time (a growing buffer
 * compacted only when the taken part is the larger half).
 */
export class FloatQueue {
  private buf = new Float32Array(1024);
  private head = 0;
  private tail = 0;

  /** Values queued. */
  get length(): number {
    return this.tail - this.head;
  }

  /** Appends values. */
  push(values: ArrayLike<number>): void {
    if (this.tail + values.length > this.buf.length) {
      const live = this.buf.subarray(this.head, this.tail);
      const size = Math.max(this.buf.length, 2 * (live.length + values.length));
      const next = new Float32Array(size);
      next.set(live);
      this.buf = next;
      this.tail -= this.head;
      this.head = 0;
    }
    this.buf.set(values, this.tail);
    this.tail += values.length;
  }

  /** The last `n` values (a copy). */
  last(n: number): Float32Array {
    return this.buf.slice(this.tail - n, this.tail);
  }

  /** Removes and returns the first `n` values. */
  take(n: number): Float32Array {
    const out = this.buf.slice(this.head, this.head + n);
    this.head += n;
    if (this.head > this.buf.length / 2) {
      this.buf.copyWithin(0, this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return out;
  }
}
