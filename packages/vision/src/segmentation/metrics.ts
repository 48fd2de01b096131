import { ShapeMismatchError } from '@rwkv-streams/core';

/** Per pixel, the index of the largest of `classes` consecutive logits (the first on ties). */
export function argmaxMask(logits: Float32Array, classes: number): Uint8Array {
  const n = logits.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let top = logits[i * classes]!;
    for (let k = 1; k < classes; k++) {
      const v = logits[i * classes + k]!;
      if (v > top) {
        top = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Pixels of each class in a mask. */
export function classCounts(mask: Uint8Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const m of mask) if (m < classes) counts[m]!++;
  return counts;
}

/** A confusion matrix over pixels: `counts[truth * classes + predicted]`. */
export class Confusion {
  readonly counts: Float64Array;

  constructor(readonly classes: number) {
    this.counts = new Float64Array(classes * classes);
  }

  /** Adds every pixel of a predicted mask against its true mask. */
  add(truth: Uint8Array, predicted: Uint8Array): void {
    if (truth.length !== predicted.length)
      throw new ShapeMismatchError(`truth has ${truth.length} pixels, prediction ${predicted.length}`, {
        field: 'predicted',
      });
    const K = this.classes;
    for (let i = 0; i < truth.length; i++) this.counts[truth[i]! * K + predicted[i]!]!++;
  }

  /**
   * Intersection over union of each class over all pixels added (TP / (TP + FP + FN);
   * NaN for a class neither present nor predicted), their mean over the classes that
   * have a value (mIoU), and the fraction of pixels right.
   */
  scores(): { iou: number[]; miou: number; pixelAccuracy: number } {
    const K = this.classes;
    const iou: number[] = [];
    let right = 0;
    let all = 0;
    for (let k = 0; k < K; k++) {
      let row = 0;
      let col = 0;
      for (let j = 0; j < K; j++) {
        row += this.counts[k * K + j]!;
        col += this.counts[j * K + k]!;
      }
      const tp = this.counts[k * K + k]!;
      iou.push(tp / (row + col - tp));
      right += tp;
      all += row;
    }
    const defined = iou.filter((v) => !Number.isNaN(v));
    return {
      iou,
      miou: defined.reduce((s, v) => s + v, 0) / defined.length,
      pixelAccuracy: right / all,
    };
  }
}
