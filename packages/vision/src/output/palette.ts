/** An RGB colour, 0-255 each. */
export type Rgb = readonly [number, number, number];

/** Ten well-separated colours (matplotlib's tab10), reused in turn for more classes. */
const TAB10: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/**
 * One colour per class: the background class (if given) black, the others tab10 in
 * order. With more than ten foreground classes colours repeat, darkened per round so
 * each class stays distinct.
 */
export function classPalette(classes: number, background?: number): Rgb[] {
  const out: Rgb[] = [];
  let f = 0;
  for (let k = 0; k < classes; k++) {
    if (k === background) {
      out.push([0, 0, 0]);
      continue;
    }
    const [r, g, b] = TAB10[f % 10]!;
    const dim = 1 / (1 + Math.floor(f / 10));
    out.push([Math.round(r * dim), Math.round(g * dim), Math.round(b * dim)]);
    f++;
  }
  return out;
}
