/**
 * Static memory planning for one execution plan: every buffer's lifetime (the units
 * from its definition to its last use) is known before anything runs, so buffers get
 * offsets in ONE device allocation, first fit, reusing the space of dead buffers. The
 * arena is as large as the most memory live at once (up to fragmentation), instead of
 * the sum of all activations.
 */

/** Byte alignment of every buffer (enough for vectorized loads and cuBLAS). */
export const ALIGN = 256;

interface Live {
  readonly offset: number;
  readonly bytes: number;
  /** Last unit index that reads it (Infinity: pinned for the whole plan). */
  readonly until: number;
}

/** Assigns offsets for buffers requested in unit order. */
export class MemoryPlanner {
  private live: Live[] = [];
  private size = 0;

  /** Bytes the arena needs. */
  get arenaBytes(): number {
    return this.size;
  }

  /**
   * Places a buffer defined at unit `at` and last read at unit `until` (Infinity for
   * inputs and outputs); buffers whose last reader ran before `at` are free again.
   */
  place(bytes: number, at: number, until: number): number {
    this.live = this.live.filter((l) => l.until >= at);
    const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const sorted = [...this.live].sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const l of sorted) {
      if (l.offset - offset >= need) break;
      offset = Math.max(offset, l.offset + l.bytes);
    }
    this.live.push({ offset, bytes: need, until });
    this.size = Math.max(this.size, offset + need);
    return offset;
  }
}
