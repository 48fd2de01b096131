/**
 * A pickle interpreter that never executes anything. It knows the opcodes of protocols
 * 2 to 5 that plain data and torch.save use, builds JavaScript values for them, and
 * leaves every call (REDUCE, NEWOBJ, BUILD, persistent ids) to callbacks that give it a
 * symbolic meaning. Globals are checked against an allow-list twice: once by a scan of
 * the whole opcode stream before any value is built (GLOBAL names are inline), and again
 * when GLOBAL / STACK_GLOBAL is interpreted (STACK_GLOBAL takes its names from the stack).
 * Any global not on the list is an UnsafePickleError naming it and its byte offset. Only
 * pure callbacks (building descriptors) can run before an untraceable STACK_GLOBAL is met;
 * no file data is read and nothing is executed at any point.
 *
 * Opcodes accepted: PROTO, FRAME, STOP, MARK, POP, POP_MARK, DUP, NONE, NEWTRUE, NEWFALSE,
 * BININT, BININT1, BININT2, LONG1, LONG4, BINFLOAT, BINUNICODE, SHORT_BINUNICODE,
 * BINUNICODE8, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8,
 * EMPTY_DICT, DICT, EMPTY_LIST, LIST, EMPTY_TUPLE, TUPLE, TUPLE1, TUPLE2, TUPLE3, EMPTY_SET,
 * ADDITEMS, FROZENSET, SETITEM, SETITEMS, APPEND, APPENDS, BINPUT, LONG_BINPUT, MEMOIZE,
 * BINGET, LONG_BINGET, GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ, NEWOBJ_EX, BUILD, BINPERSID.
 * Opcodes that import or call by themselves (INST, OBJ, EXT1/2/4) are UnsafePickleError;
 * others (text-protocol 0 ops, out-of-band buffers, unknown bytes) are MalformedFileError.
 */
import { MalformedFileError, TruncatedFileError, UnsafePickleError } from '../../errors.js';
import { viewOf } from '../byte-source.js';

/** A symbolic reference to an allowed global, e.g. `collections.OrderedDict`. */
export interface PickleGlobal {
  /** Discriminant. */
  readonly kind: 'global';
  /** Module, e.g. `torch._utils`. */
  readonly module: string;
  /** Name in the module, e.g. `_rebuild_tensor_v2`. */
  readonly name: string;
}

/** A Python tuple. */
export interface PickleTuple {
  /** Discriminant. */
  readonly kind: 'tuple';
  /** Elements in order. */
  readonly items: readonly PickleValue[];
}

/** A Python list (mutable while unpickling). */
export interface PickleList {
  /** Discriminant. */
  readonly kind: 'list';
  /** Elements in order. */
  readonly items: PickleValue[];
}

/** A Python dict, or an object treated as one (OrderedDict); keys in insertion order. */
export interface PickleDict {
  /** Discriminant. */
  readonly kind: 'dict';
  /** Items in insertion order. */
  readonly entries: Map<PickleKey, PickleValue>;
  /** Attributes set by BUILD (e.g. a state_dict's `_metadata`). */
  attributes?: PickleValue;
}

/** A Python set or frozenset. */
export interface PickleSet {
  /** Discriminant. */
  readonly kind: 'set';
  /** Elements in pickle order. */
  readonly items: PickleValue[];
}

/** Python bytes / bytearray. */
export interface PickleBytes {
  /** Discriminant. */
  readonly kind: 'bytes';
  /** The bytes (a copy, not a view of the pickle). */
  readonly data: Uint8Array;
}

/** An object produced by a callback (tensor, storage...), opaque to the machine. */
export interface PickleOpaque {
  /** Discriminant. */
  readonly kind: 'opaque';
  /** What it is, for messages (e.g. `tensor`). */
  readonly type: string;
  /** The callback's payload. */
  readonly value: unknown;
}

/** Dict keys: strings, integers, floats, booleans, None, or tuples rendered as strings. */
export type PickleKey = string | number | bigint | boolean | null;

/** Every value the machine can hold. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleBytes
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleSet
  | PickleGlobal
  | PickleOpaque;

/** Symbolic meaning of calls; every callback must be pure (no I/O, no side effects outside its result). */
export interface PickleSemantics {
  /** Whether `module.name` may appear at all. */
  isAllowed(module: string, name: string): boolean;
  /** REDUCE / NEWOBJ on an allowed global with the given arguments. */
  call(callee: PickleGlobal, args: readonly PickleValue[], offset: number): PickleValue;
  /** BINPERSID: turns a persistent id into a value (torch: a storage reference). */
  persistentLoad?(pid: PickleValue, offset: number): PickleValue;
  /** BUILD on a value that is not a plain dict; absent or returning undefined means "malformed". */
  build?(target: PickleValue, state: PickleValue, offset: number): PickleValue | undefined;
}

/** Opcode bytes and names. */
const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  BINFLOAT: 0x47,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  NONE: 0x4e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  APPENDS: 0x65,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  OBJ: 0x6f,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_DICT: 0x7d,
  EMPTY_TUPLE: 0x29,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([k, v]) => [v, k]));

/** Opcodes that would import or call something by themselves. */
const UNSAFE_OPS = new Set<number>([OP.INST, OP.OBJ, OP.EXT1, OP.EXT2, OP.EXT4]);

/** Names of protocol-0/1 text opcodes and buffer opcodes, for clear refusals. */
const UNSUPPORTED_NAMES: ReadonlyMap<number, string> = new Map([
  [0x46, 'FLOAT'],
  [0x49, 'INT'],
  [0x4c, 'LONG'],
  [0x50, 'PERSID'],
  [0x53, 'STRING'],
  [0x56, 'UNICODE'],
  [0x67, 'GET'],
  [0x70, 'PUT'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
]);

/** Where a pickle lives and what to call it in errors. */
export interface PickleSource {
  /** File (and entry) name for messages, e.g. `model.pth:archive/data.pkl`. */
  readonly file: string;
  /** The pickle bytes (may continue past STOP). */
  readonly bytes: Uint8Array;
  /** Where the pickle starts in `bytes`. */
  readonly start?: number;
}

/** One decoded instruction. */
export interface PickleOp {
  /** Opcode byte. */
  readonly code: number;
  /** Opcode name. */
  readonly name: string;
  /** Offset of the opcode byte. */
  readonly offset: number;
  /** Inline argument: number, bigint, string, bytes, or [module, name] for GLOBAL. */
  readonly arg: number | bigint | string | Uint8Array | readonly [string, string] | undefined;
}

function opLabel(code: number): string {
  const name = OP_NAMES.get(code) ?? UNSUPPORTED_NAMES.get(code);
  return name !== undefined
    ? `${name} (0x${code.toString(16).padStart(2, '0')})`
    : `0x${code.toString(16).padStart(2, '0')}`;
}

/**
 * Decodes the opcode stream from `start` up to and including STOP, without building any
 * value. Checks every opcode is known and safe, every inline argument lies inside the
 * bytes, every GLOBAL is allowed, and every STACK_GLOBAL whose two strings can be traced
 * (pushed or fetched from the memo just before it, as Python's pickler writes them) is
 * allowed. Returns the instructions and the offset after STOP.
 */
export function scanPickle(
  src: PickleSource,
  isAllowed: (module: string, name: string) => boolean,
): {
  ops: PickleOp[];
  end: number;
} {
  const { file, bytes } = src;
  const view = viewOf(bytes);
  const ops: PickleOp[] = [];
  let p = src.start ?? 0;
  const need = (n: number, at: number, code: number): void => {
    if (p + n > bytes.length) {
      throw new TruncatedFileError(`pickle ends inside the argument of ${opLabel(code)}`, {
        file,
        field: OP_NAMES.get(code) ?? 'pickle',
        offset: at,
      });
    }
  };
  const utf8 = new TextDecoder('utf-8');
  const line = (at: number, code: number): string => {
    const nl = bytes.indexOf(0x0a, p);
    if (nl < 0 || nl - p > 4096) {
      throw new MalformedFileError(`${opLabel(code)} argument has no newline`, {
        file,
        field: 'GLOBAL',
        offset: at,
      });
    }
    const s = utf8.decode(bytes.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const recent: (string | undefined)[] = [];
  const memoStrings = new Map<number, string>();
  const memoKeys = new Set<number>();
  while (true) {
    if (p >= bytes.length) {
      throw new TruncatedFileError('pickle ends before its STOP opcode', { file, field: 'STOP', offset: p });
    }
    const offset = p;
    const code = bytes[p++]!;
    const name = OP_NAMES.get(code);
    if (UNSAFE_OPS.has(code)) {
      throw new UnsafePickleError(`opcode ${opLabel(code)} imports or calls code and is never accepted`, {
        file,
        field: name ?? opLabel(code),
        offset,
      });
    }
    if (name === undefined) {
      const known = UNSUPPORTED_NAMES.get(code);
      throw new MalformedFileError(
        known !== undefined
          ? `opcode ${opLabel(code)} is not supported (protocol 0/1 text opcodes and out-of-band buffers are not used by torch.save)`
          : `unknown pickle opcode ${opLabel(code)}`,
        { file, field: known ?? opLabel(code), offset },
      );
    }
    let arg: PickleOp['arg'];
    switch (code) {
      case OP.PROTO:
      case OP.BININT1:
      case OP.BINGET:
      case OP.BINPUT:
        need(1, offset, code);
        arg = bytes[p]!;
        p += 1;
        break;
      case OP.BININT2:
        need(2, offset, code);
        arg = view.getUint16(p, true);
        p += 2;
        break;
      case OP.BININT:
        need(4, offset, code);
        arg = view.getInt32(p, true);
        p += 4;
        break;
      case OP.LONG_BINGET:
      case OP.LONG_BINPUT:
        need(4, offset, code);
        arg = view.getUint32(p, true);
        p += 4;
        break;
      case OP.FRAME:
        need(8, offset, code);
        arg = Number(view.getBigUint64(p, true));
        p += 8;
        break;
      case OP.BINFLOAT:
        need(8, offset, code);
        arg = view.getFloat64(p, false);
        p += 8;
        break;
      case OP.LONG1:
      case OP.LONG4: {
        const lenBytes = code === OP.LONG1 ? 1 : 4;
        need(lenBytes, offset, code);
        const n = code === OP.LONG1 ? bytes[p]! : view.getInt32(p, true);
        p += lenBytes;
        if (n < 0 || n > 1 << 16) {
          throw new MalformedFileError(`${opLabel(code)} length ${n} is out of range`, {
            file,
            field: name,
            offset,
          });
        }
        need(n, offset, code);
        arg = decodeLong(bytes.subarray(p, p + n));
        p += n;
        break;
      }
      case OP.SHORT_BINUNICODE:
      case OP.SHORT_BINSTRING:
      case OP.SHORT_BINBYTES:
      case OP.BINUNICODE:
      case OP.BINSTRING:
      case OP.BINBYTES:
      case OP.BINUNICODE8:
      case OP.BINBYTES8:
      case OP.BYTEARRAY8: {
        const short =
          code === OP.SHORT_BINUNICODE || code === OP.SHORT_BINSTRING || code === OP.SHORT_BINBYTES;
        const long = code === OP.BINUNICODE8 || code === OP.BINBYTES8 || code === OP.BYTEARRAY8;
        const lenBytes = short ? 1 : long ? 8 : 4;
        need(lenBytes, offset, code);
        let n: number;
        if (short) n = bytes[p]!;
        else if (long) {
          const big = view.getBigUint64(p, true);
          n = big > BigInt(bytes.length) ? bytes.length + 1 : Number(big);
        } else n = code === OP.BINSTRING ? view.getInt32(p, true) : view.getUint32(p, true);
        p += lenBytes;
        if (n < 0)
          throw new MalformedFileError(`${opLabel(code)} has negative length ${n}`, {
            file,
            field: name,
            offset,
          });
        need(n, offset, code);
        const raw = bytes.subarray(p, p + n);
        p += n;
        const text = code === OP.SHORT_BINUNICODE || code === OP.BINUNICODE || code === OP.BINUNICODE8;
        const py2str = code === OP.SHORT_BINSTRING || code === OP.BINSTRING;
        arg = text || py2str ? utf8.decode(raw) : raw.slice();
        break;
      }
      case OP.GLOBAL: {
        const module = line(offset, code);
        const gname = line(offset, code);
        if (!isAllowed(module, gname)) throw unsafeGlobal(file, module, gname, offset);
        arg = [module, gname];
        break;
      }
      default:
        arg = undefined;
    }
    // Follow the strings the pickler pushes and memoizes, so that STACK_GLOBAL (protocol 4+)
    // is checked here too in the form Python's pickler writes it: two strings, each pushed
    // directly or fetched from the memo, then STACK_GLOBAL.
    if (code === OP.SHORT_BINUNICODE || code === OP.BINUNICODE || code === OP.BINUNICODE8) {
      recent.push(arg as string);
    } else if (code === OP.BINPUT || code === OP.LONG_BINPUT || code === OP.MEMOIZE) {
      const index = code === OP.MEMOIZE ? memoKeys.size : (arg as number);
      memoKeys.add(index);
      const topString = recent[recent.length - 1];
      if (topString !== undefined) memoStrings.set(index, topString);
      else memoStrings.delete(index);
    } else if (code === OP.BINGET || code === OP.LONG_BINGET) {
      recent.push(memoStrings.get(arg as number));
    } else if (code === OP.STACK_GLOBAL) {
      const [module, gname] = recent.slice(-2);
      if (recent.length >= 2 && module !== undefined && gname !== undefined && !isAllowed(module, gname)) {
        throw unsafeGlobal(file, module, gname, offset);
      }
      recent.push(undefined);
    } else if (code !== OP.FRAME && code !== OP.PROTO) {
      recent.push(undefined);
    }
    if (recent.length > 2) recent.splice(0, recent.length - 2);
    ops.push({ code, name, offset, arg });
    if (code === OP.STOP) return { ops, end: p };
  }
}

function unsafeGlobal(file: string, module: string, name: string, offset: number): UnsafePickleError {
  return new UnsafePickleError(
    `global '${module}.${name}' is not on the allow-list of tensor and container types; the pickle was not run`,
    { file, field: `${module}.${name}`, offset },
  );
}

/** Little-endian two's-complement integer of any length (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

/** Turns a value into a dict key; tuples of scalars become their Python repr. */
function toKey(v: PickleValue, file: string, offset: number): PickleKey {
  if (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'number' ||
    typeof v === 'bigint' ||
    typeof v === 'boolean'
  ) {
    return v;
  }
  if (v.kind === 'tuple') {
    return `(${v.items.map((x) => String(toKey(x, file, offset))).join(', ')}${v.items.length === 1 ? ',' : ''})`;
  }
  throw new MalformedFileError(`a ${v.kind} cannot be a dict key here`, { file, field: 'SETITEM', offset });
}

/**
 * Interprets a pickle: scans it first (see {@link scanPickle}), then runs the stack
 * machine with `semantics` giving calls their meaning. Returns the unpickled value and
 * the offset after STOP.
 */
export function unpickle(src: PickleSource, semantics: PickleSemantics): { value: PickleValue; end: number } {
  const { file } = src;
  const { ops, end } = scanPickle(src, (m, n) => semantics.isAllowed(m, n));
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  const fail = (msg: string, op: PickleOp): never => {
    throw new MalformedFileError(msg, { file, field: op.name, offset: op.offset });
  };
  const pop = (op: PickleOp): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK)
      return fail('stack underflow (or MARK where a value was expected)', op);
    return v;
  };
  const top = (op: PickleOp): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return fail('stack is empty', op);
    return v;
  };
  const popMark = (op: PickleOp): PickleValue[] => {
    const items: PickleValue[] = [];
    while (true) {
      const v = stack.pop();
      if (v === undefined) return fail('no MARK on the stack', op);
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const asDict = (v: PickleValue, op: PickleOp): PickleDict => {
    if (typeof v === 'object' && v !== null && v.kind === 'dict') return v;
    return fail(`${op.name} target is not a dict`, op);
  };
  const asTuple = (v: PickleValue, op: PickleOp): readonly PickleValue[] => {
    if (typeof v === 'object' && v !== null && v.kind === 'tuple') return v.items;
    return fail(`${op.name} arguments are not a tuple`, op);
  };
  const asGlobal = (v: PickleValue, op: PickleOp): PickleGlobal => {
    if (typeof v === 'object' && v !== null && v.kind === 'global') return v;
    return fail(`${op.name} callee is not a global`, op);
  };

  for (const op of ops) {
    switch (op.code) {
      case OP.PROTO:
        if ((op.arg as number) > 5) fail(`pickle protocol ${op.arg} is newer than 5`, op);
        break;
      case OP.FRAME:
        break;
      case OP.STOP: {
        const value = pop(op);
        if (stack.length !== 0) fail(`${stack.length} values left on the stack at STOP`, op);
        return { value, end };
      }
      case OP.MARK:
        stack.push(MARK);
        break;
      case OP.POP:
        if (stack.pop() === undefined) fail('stack underflow', op);
        break;
      case OP.POP_MARK:
        popMark(op);
        break;
      case OP.DUP:
        stack.push(top(op));
        break;
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT:
      case OP.BININT1:
      case OP.BININT2:
      case OP.LONG1:
      case OP.LONG4:
      case OP.BINFLOAT:
        stack.push(op.arg as number | bigint);
        break;
      case OP.BINUNICODE:
      case OP.SHORT_BINUNICODE:
      case OP.BINUNICODE8:
      case OP.BINSTRING:
      case OP.SHORT_BINSTRING:
        stack.push(op.arg as string);
        break;
      case OP.BINBYTES:
      case OP.SHORT_BINBYTES:
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        stack.push({ kind: 'bytes', data: op.arg as Uint8Array });
        break;
      case OP.EMPTY_DICT:
        stack.push({ kind: 'dict', entries: new Map() });
        break;
      case OP.EMPTY_LIST:
        stack.push({ kind: 'list', items: [] });
        break;
      case OP.EMPTY_TUPLE:
        stack.push({ kind: 'tuple', items: [] });
        break;
      case OP.EMPTY_SET:
        stack.push({ kind: 'set', items: [] });
        break;
      case OP.DICT: {
        const items = popMark(op);
        if (items.length % 2 !== 0) fail('DICT needs key/value pairs', op);
        const entries = new Map<PickleKey, PickleValue>();
        for (let i = 0; i < items.length; i += 2)
          entries.set(toKey(items[i]!, file, op.offset), items[i + 1]!);
        stack.push({ kind: 'dict', entries });
        break;
      }
      case OP.LIST:
        stack.push({ kind: 'list', items: popMark(op) });
        break;
      case OP.TUPLE:
        stack.push({ kind: 'tuple', items: popMark(op) });
        break;
      case OP.FROZENSET:
        stack.push({ kind: 'set', items: popMark(op) });
        break;
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op.code - OP.TUPLE1 + 1;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop(op));
        stack.push({ kind: 'tuple', items });
        break;
      }
      case OP.SETITEM: {
        const value = pop(op);
        const key = pop(op);
        asDict(top(op), op).entries.set(toKey(key, file, op.offset), value);
        break;
      }
      case OP.SETITEMS: {
        const items = popMark(op);
        if (items.length % 2 !== 0) fail('SETITEMS needs key/value pairs', op);
        const d = asDict(top(op), op);
        for (let i = 0; i < items.length; i += 2)
          d.entries.set(toKey(items[i]!, file, op.offset), items[i + 1]!);
        break;
      }
      case OP.APPEND: {
        const value = pop(op);
        const target = top(op);
        if (typeof target !== 'object' || target === null || target.kind !== 'list')
          fail('APPEND target is not a list', op);
        (target as PickleList).items.push(value);
        break;
      }
      case OP.APPENDS: {
        const items = popMark(op);
        const target = top(op);
        if (typeof target !== 'object' || target === null || target.kind !== 'list')
          fail('APPENDS target is not a list', op);
        (target as PickleList).items.push(...items);
        break;
      }
      case OP.ADDITEMS: {
        const items = popMark(op);
        const target = top(op);
        if (typeof target !== 'object' || target === null || target.kind !== 'set')
          fail('ADDITEMS target is not a set', op);
        (target as PickleSet).items.push(...items);
        break;
      }
      case OP.BINPUT:
      case OP.LONG_BINPUT:
        memo.set(op.arg as number, top(op));
        break;
      case OP.MEMOIZE:
        memo.set(memo.size, top(op));
        break;
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const v = memo.get(op.arg as number);
        if (v === undefined) fail(`memo entry ${op.arg} was never stored`, op);
        stack.push(v as PickleValue);
        break;
      }
      case OP.GLOBAL: {
        const [module, name] = op.arg as [string, string];
        stack.push({ kind: 'global', module, name });
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop(op);
        const module = pop(op);
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('STACK_GLOBAL operands are not strings', op);
        if (!semantics.isAllowed(module as string, name as string)) {
          throw unsafeGlobal(file, module as string, name as string, op.offset);
        }
        stack.push({ kind: 'global', module: module as string, name: name as string });
        break;
      }
      case OP.REDUCE: {
        const args = asTuple(pop(op), op);
        const callee = asGlobal(pop(op), op);
        stack.push(semantics.call(callee, args, op.offset));
        break;
      }
      case OP.NEWOBJ: {
        const args = asTuple(pop(op), op);
        const cls = asGlobal(pop(op), op);
        stack.push(semantics.call(cls, args, op.offset));
        break;
      }
      case OP.NEWOBJ_EX: {
        const kwargs = pop(op);
        const args = asTuple(pop(op), op);
        const cls = asGlobal(pop(op), op);
        if (
          typeof kwargs !== 'object' ||
          kwargs === null ||
          kwargs.kind !== 'dict' ||
          kwargs.entries.size > 0
        ) {
          fail('NEWOBJ_EX with keyword arguments is not supported', op);
        }
        stack.push(semantics.call(cls, args, op.offset));
        break;
      }
      case OP.BUILD: {
        const state = pop(op);
        const target = top(op);
        if (typeof target === 'object' && target !== null && target.kind === 'dict') {
          target.attributes = state;
          break;
        }
        const built = semantics.build?.(target, state, op.offset);
        if (built === undefined) {
          fail(
            `BUILD on a ${typeof target === 'object' && target !== null ? target.kind : typeof target} is not supported`,
            op,
          );
        }
        stack[stack.length - 1] = built as PickleValue;
        break;
      }
      case OP.BINPERSID: {
        const pid = pop(op);
        if (semantics.persistentLoad === undefined) fail('persistent ids are not expected here', op);
        stack.push(semantics.persistentLoad!(pid, op.offset));
        break;
      }
      default:
        fail(`opcode ${opLabel(op.code)} is not handled`, op);
    }
  }
  throw new TruncatedFileError('pickle ends before its STOP opcode', { file, field: 'STOP', offset: end });
}
