import { describe, expect, it } from 'vitest';
import { MalformedFileError, type RwkvError, TruncatedFileError, UnsafePickleError } from '../../errors.js';
import { type PickleSemantics, type PickleValue, scanPickle, unpickle } from './pickle-machine.js';
import { isAllowedTorchGlobal, torchSemantics } from './torch-pickle.js';

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

/** Assembles a pickle from opcode bytes, strings (latin-1) and numbers (single bytes). */
function bytesOf(...parts: (string | number | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') for (const c of p) out.push(c.charCodeAt(0));
    else out.push(...p);
  }
  return new Uint8Array(out);
}

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const shortStr = (s: string): Uint8Array => bytesOf(0x8c, s.length, s);
const binUnicode = (s: string): Uint8Array => {
  const b = new TextEncoder().encode(s);
  return bytesOf('X', u32(b.length), b);
};

/** Semantics that record calls, to prove none happens before a refusal. */
function recording(): PickleSemantics & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    isAllowed: (m, n) => m === 'collections' && n === 'OrderedDict',
    call(callee) {
      calls.push(`${callee.module}.${callee.name}`);
      return { kind: 'dict', entries: new Map() };
    },
  };
}

describe('unpickle: data opcodes', () => {
  it('builds dicts, lists, tuples, numbers, strings, bytes and memo references', () => {
    const pkl = bytesOf(
      0x80,
      4, // PROTO 4
      0x95,
      new Uint8Array(8), // FRAME (length ignored)
      '}',
      0x94, // EMPTY_DICT, MEMOIZE -> memo 0
      '(', // MARK
      shortStr('int1'),
      'K',
      200,
      shortStr('int2'),
      'M',
      0x34,
      0x12,
      shortStr('int4'),
      'J',
      new Uint8Array(new Int32Array([-5]).buffer),
      shortStr('long'),
      0x8a,
      9,
      new Uint8Array([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50]),
      shortStr('neg'),
      0x8a,
      1,
      0xff,
      shortStr('float'),
      'G',
      new Uint8Array([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
      shortStr('flags'),
      0x88,
      0x89,
      'N',
      0x87, // NEWTRUE NEWFALSE NONE TUPLE3
      shortStr('list'),
      ']',
      0x94,
      '(',
      'K',
      1,
      'K',
      2,
      'e', // EMPTY_LIST MEMOIZE MARK 1 2 APPENDS
      shortStr('again'),
      'h',
      0, // BINGET 0 -> the dict itself
      shortStr('bytes'),
      'C',
      3,
      'abc',
      shortStr('unicode'),
      binUnicode('héllo'),
      'u', // SETITEMS
      '.',
    );
    const { value } = unpickle({ file: 't.pkl', bytes: pkl }, recording());
    const d = value as Extract<PickleValue, { kind: 'dict' }>;
    expect(d.kind).toBe('dict');
    const e = d.entries;
    expect(e.get('int1')).toBe(200);
    expect(e.get('int2')).toBe(0x1234);
    expect(e.get('int4')).toBe(-5);
    expect(e.get('long')).toBe(0x50a86a20f9469cfc6cn);
    expect(e.get('neg')).toBe(-1);
    expect(e.get('float')).toBe(1.5);
    expect(e.get('flags')).toEqual({ kind: 'tuple', items: [true, false, null] });
    expect(e.get('list')).toEqual({ kind: 'list', items: [1, 2] });
    expect(e.get('again')).toBe(d);
    expect(e.get('bytes')).toEqual({ kind: 'bytes', data: new TextEncoder().encode('abc') });
    expect(e.get('unicode')).toBe('héllo');
  });

  it('gives REDUCE, NEWOBJ and BUILD their meaning through the semantics only', () => {
    const sem = recording();
    const pkl = bytesOf(0x80, 2, 'ccollections\nOrderedDict\n', ')', 'R', 'q', 0, '}', 'b', '.');
    const { value } = unpickle({ file: 'od.pkl', bytes: pkl }, sem);
    expect(sem.calls).toEqual(['collections.OrderedDict']);
    expect((value as { kind: string }).kind).toBe('dict');
  });
});

describe('unpickle: refusals', () => {
  const unsafe: [string, Uint8Array, string][] = [
    [
      'GLOBAL os.system',
      bytesOf(0x80, 2, 'cos\nsystem\n', binUnicode('touch /tmp/x'), 0x85, 'R', '.'),
      'os.system',
    ],
    [
      'STACK_GLOBAL builtins.eval',
      bytesOf(
        0x80,
        4,
        shortStr('builtins'),
        0x94,
        shortStr('eval'),
        0x94,
        0x93,
        shortStr('1+1'),
        0x85,
        'R',
        '.',
      ),
      'builtins.eval',
    ],
    [
      'GLOBAL subprocess.Popen via NEWOBJ',
      bytesOf(0x80, 2, 'csubprocess\nPopen\n', shortStr('ls'), 0x85, 0x81, '.'),
      'subprocess.Popen',
    ],
    [
      'GLOBAL posix.system',
      bytesOf(0x80, 2, 'cposix\nsystem\n', shortStr('id'), 0x85, 'R', '.'),
      'posix.system',
    ],
  ];
  for (const [label, pkl, global] of unsafe) {
    it(`refuses ${label} with UnsafePickleError naming it and its offset, before any call`, () => {
      const sem = recording();
      const e = catchError(() => unpickle({ file: 'evil.pkl', bytes: pkl }, sem));
      expect(e).toBeInstanceOf(UnsafePickleError);
      expect(e.code).toBe('UNSAFE_PICKLE');
      expect(e.field).toBe(global);
      expect(e.message).toContain('evil.pkl');
      expect(e.message).toContain(`field '${global}'`);
      expect(e.offset).toBeTypeOf('number');
      expect(sem.calls).toEqual([]);
    });
  }

  it('traces STACK_GLOBAL strings through the memo during the scan, before any call', () => {
    const sem = recording();
    // protocol 4: OrderedDict() via STACK_GLOBAL, then builtins.exec with 'builtins' fetched from the memo.
    const pkl = bytesOf(
      0x80,
      4,
      shortStr('builtins'),
      0x94, // memo 0
      shortStr('collections'),
      0x94,
      shortStr('OrderedDict'),
      0x94,
      0x93,
      ')',
      'R', // allowed call
      'h',
      0,
      shortStr('exec'),
      0x94,
      0x93,
      shortStr('x'),
      0x85,
      'R',
      0x86,
      '.',
    );
    const scan = catchError(() =>
      scanPickle({ file: 'memo.pkl', bytes: pkl }, (m, n) => m === 'collections' && n === 'OrderedDict'),
    );
    expect(scan).toBeInstanceOf(UnsafePickleError);
    expect(scan.field).toBe('builtins.exec');
    const e = catchError(() => unpickle({ file: 'memo.pkl', bytes: pkl }, sem));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.field).toBe('builtins.exec');
    expect(sem.calls).toEqual([]);
  });

  it('finds an unsafe GLOBAL placed after allowed calls before running any of them', () => {
    const sem = recording();
    const pkl = bytesOf(
      0x80,
      2,
      'ccollections\nOrderedDict\n',
      ')',
      'R', // allowed call first
      'cos\nsystem\n',
      shortStr('id'),
      0x85,
      'R', // then the payload
      0x86,
      '.',
    );
    const e = catchError(() => unpickle({ file: 'late.pkl', bytes: pkl }, sem));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.offset).toBe(2 + 25 + 2);
    expect(sem.calls).toEqual([]);
  });

  it('refuses INST, OBJ and EXT opcodes as unsafe', () => {
    for (const op of [0x69, 0x6f, 0x82]) {
      const e = catchError(() =>
        scanPickle({ file: 'op.pkl', bytes: bytesOf(0x80, 2, '(', op, 'os\nsystem\n', '.') }, () => true),
      );
      expect(e).toBeInstanceOf(UnsafePickleError);
      expect(e.offset).toBe(3);
    }
  });

  it('refuses unknown opcodes and text opcodes with MalformedFileError naming the opcode and offset', () => {
    const unknown = catchError(() =>
      unpickle({ file: 'u.pkl', bytes: bytesOf(0x80, 2, 0xff, '.') }, recording()),
    );
    expect(unknown).toBeInstanceOf(MalformedFileError);
    expect(unknown.message).toContain('0xff');
    expect(unknown.offset).toBe(2);
    const text = catchError(() =>
      unpickle({ file: 't.pkl', bytes: bytesOf(0x80, 2, 'I42\n', '.') }, recording()),
    );
    expect(text).toBeInstanceOf(MalformedFileError);
    expect(text.field).toBe('INT');
  });

  it('reports a pickle cut short as TruncatedFileError', () => {
    const e = catchError(() =>
      unpickle({ file: 'cut.pkl', bytes: bytesOf(0x80, 2, 'X', u32(10), 'abc') }, recording()),
    );
    expect(e).toBeInstanceOf(TruncatedFileError);
    expect(e.offset).toBe(2);
    const noStop = catchError(() => unpickle({ file: 'cut.pkl', bytes: bytesOf(0x80, 2, 'N') }, recording()));
    expect(noStop).toBeInstanceOf(TruncatedFileError);
    expect(noStop.field).toBe('STOP');
  });

  it('reports stack misuse as MalformedFileError', () => {
    const e = catchError(() => unpickle({ file: 's.pkl', bytes: bytesOf(0x80, 2, 's', '.') }, recording()));
    expect(e).toBeInstanceOf(MalformedFileError);
    expect(e.field).toBe('SETITEM');
    const badGet = catchError(() =>
      unpickle({ file: 's.pkl', bytes: bytesOf(0x80, 2, 'h', 7, '.') }, recording()),
    );
    expect(badGet.message).toContain('memo entry 7');
  });
});

describe('torch allow-list', () => {
  it('accepts what torch.save writes and nothing that runs code', () => {
    for (const [m, n] of [
      ['collections', 'OrderedDict'],
      ['torch._utils', '_rebuild_tensor_v2'],
      ['torch._utils', '_rebuild_parameter'],
      ['torch', 'FloatStorage'],
      ['torch', 'HalfStorage'],
      ['torch', 'BFloat16Storage'],
      ['torch', 'DoubleStorage'],
      ['torch.storage', 'UntypedStorage'],
      ['torch', 'float32'],
      ['torch.serialization', '_get_layout'],
    ]) {
      expect(isAllowedTorchGlobal(m!, n!), `${m}.${n}`).toBe(true);
    }
    for (const [m, n] of [
      ['os', 'system'],
      ['builtins', 'eval'],
      ['builtins', 'exec'],
      ['builtins', 'getattr'],
      ['subprocess', 'Popen'],
      ['torch', 'load'],
      ['torch._utils', '_import_dotted_name'],
      ['collections', 'defaultdict'],
      ['numpy.core.multiarray', '_reconstruct'],
    ]) {
      expect(isAllowedTorchGlobal(m!, n!), `${m}.${n}`).toBe(false);
    }
  });

  it('rejects a persistent id whose storage type is not a storage', () => {
    const pkl = bytesOf(
      0x80,
      2,
      '(',
      shortStr('storage'),
      'ctorch\nfloat32\n',
      shortStr('0'),
      shortStr('cpu'),
      'K',
      2,
      't',
      'Q',
      '.',
    );
    const e = catchError(() => unpickle({ file: 'p.pkl', bytes: pkl }, torchSemantics('p.pkl')));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.field).toBe('torch.float32');
  });
});
