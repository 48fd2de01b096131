import { ShapeMismatchError } from '../errors.js';
import type { Dim, Value } from './ir.js';

/** Whether two dims are known to be equal (symbolic dims compare by name). */
export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy broadcasting of two shapes; symbolic dims broadcast against 1 or themselves. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[], op: string): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else
      throw new ShapeMismatchError(`${op}: cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`, {
        field: op,
      });
  }
  return out;
}

/** Throws unless two values have the same shape. */
export function checkSame(op: string, a: Value, b: Value): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeMismatchError(
      `${op}: ${a.name}[${a.shape.join(', ')}] and ${b.name}[${b.shape.join(', ')}] must have the same shape`,
      {
        field: b.name,
      },
    );
  }
}
