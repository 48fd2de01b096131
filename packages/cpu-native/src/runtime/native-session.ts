import {
  type Carry,
  checkOutputArray,
  DisposedError,
  type GraphSession,
  type InitialValue,
  initialTensor,
  type OutputArrays,
  type TensorValue,
} from '@rwkv-streams/core';
import { bindInputs, type GraphCall, runBound } from './graph-call.js';
import type { GraphLibrary } from './library.js';

/**
 * A session whose carried values (a model's state) live in two sets of arrays that the
 * library reads from and writes into in turn: a call allocates nothing for them, and logits go
 * into the caller's `into` array. (A new 2.4 MB state a token, RWKV-7 12 x 768, kept V8's
 * collector busy on one of two cores: the int4 step measured 148 tok/s with new output
 * arrays a call against 173 with the same ones, bench/README.md.)
 */
export function nativeSession(
  lib: GraphLibrary,
  pick: (inputs: Readonly<Record<string, TensorValue>>) => GraphCall,
  carry: Carry,
  initial: Readonly<Record<string, InitialValue>>,
): GraphSession {
  // the caller's initial arrays are copied: the session writes into its own
  let current: Record<string, TensorValue> = {};
  for (const [name, v] of Object.entries(initial)) {
    const t = initialTensor(v);
    current[name] = 'zeros' in v ? t : { ...t, data: t.data.slice() };
  }
  let spare: Record<string, Float32Array | Int32Array> = {};
  let open = true;
  return {
    async run(inputs, into?: OutputArrays) {
      if (!open) throw new DisposedError('native CPU session');
      const feeds = { ...inputs, ...current };
      const call = pick(feeds);
      const sizes = bindInputs(lib, call, feeds);
      const out = runBound(lib, call, sizes, (name, count) => {
        const to = carry[name];
        if (to) {
          let s = spare[to];
          if (!s || s.length !== count) {
            s = current[to]?.data instanceof Int32Array ? new Int32Array(count) : new Float32Array(count);
            spare[to] = s;
          }
          return s;
        }
        const target = into?.[name];
        if (!target) return undefined;
        const v = call.entry.outputs.find((o) => o.name === name)!;
        checkOutputArray(name, v.dtype === 'int32' ? 'int32' : 'float32', count, target);
        return target;
      });
      const next: Record<string, TensorValue> = { ...current };
      const nextSpare: Record<string, Float32Array | Int32Array> = { ...spare };
      const rest: Record<string, TensorValue> = {};
      for (const [name, value] of Object.entries(out)) {
        const to = carry[name];
        if (!to) {
          rest[name] = value;
          continue;
        }
        const old = current[to];
        next[to] = value;
        if (old) nextSpare[to] = old.data;
        else delete nextSpare[to];
      }
      current = next;
      spare = nextSpare;
      return rest;
    },
    async read() {
      return Object.fromEntries(
        Object.entries(current).map(([k, v]) => [
          k,
          { dtype: v.dtype, dims: [...v.dims], data: v.data.slice() },
        ]),
      );
    },
    async dispose() {
      open = false;
      current = {};
      spare = {};
    },
  };
}
