import { describe, expect, it } from 'vitest';
import { argmaxMask, Confusion, classCounts } from './metrics.js';

describe('segmentation metrics', () => {
  it('IoU per class, mIoU over the classes that occur, pixel accuracy', () => {
    const truth = Uint8Array.from([0, 0, 1, 1, 2, 2]);
    const pred = Uint8Array.from([0, 1, 1, 1, 2, 0]);
    const cm = new Confusion(4);
    cm.add(truth, pred);
    const s = cm.scores();
    // class 0: TP 1, FP 1 (pixel 5), FN 1 (pixel 1) -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: 1/2
    expect(s.iou[0]).toBeCloseTo(1 / 3, 12);
    expect(s.iou[1]).toBeCloseTo(2 / 3, 12);
    expect(s.iou[2]).toBeCloseTo(1 / 2, 12);
    expect(s.iou[3]).toBeNaN();
    expect(s.miou).toBeCloseTo((1 / 3 + 2 / 3 + 1 / 2) / 3, 12);
    expect(s.pixelAccuracy).toBeCloseTo(4 / 6, 12);
    expect(() => cm.add(truth, pred.subarray(1))).toThrow(/6 pixels, prediction 5/);
  });

  it('argmax per pixel (first on ties) and counts per class', () => {
    const mask = argmaxMask(Float32Array.from([0, 2, 1, 5, 5, 0, -1, -2, -3]), 3);
    expect([...mask]).toEqual([1, 0, 0]);
    expect(classCounts(mask, 3)).toEqual([2, 1, 0]);
  });
});
