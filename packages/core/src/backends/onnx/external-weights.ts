import { closeSync, openSync, writeSync } from 'node:fs';
import { ONNX_DATA_EXTERNAL, type OnnxTensor } from './onnx-schema.js';

/**
 * Where a lowered model keeps its large initializers: in `file`, named `location` in the
 * model (relative to the model file), instead of inside the serialized model.
 *
 * Why: onnxruntime memory-maps external initializers on Linux and macOS. A session made
 * from a model in memory copies every weight into its own heap allocations while the
 * serialized model is also held, and the blocks freed afterwards stay in the process's heap;
 * from a file with external data the weights are mapped, only the pages used become
 * resident (the rows of an embedding that tokens touch), and what onnxruntime repacks
 * (MatMulNBits) is the only copy. Measured on the int4 0.1B model: resident memory over the
 * runtime's own 1.49x of the model's bytes from memory, 0.60-0.70x from a file; the session
 * made in 1.7-2.5 s instead of 5.0-5.3 s (bench/README.md, "Where an int4 token goes").
 */
export interface ExternalData {
  /** Path of the weights file to write (created or truncated). */
  readonly file: string;
  /** Its name as the model refers to it: a path relative to the model file. */
  readonly location: string;
  /** Initializers smaller than this stay inside the model (default 4096 bytes). */
  readonly minBytes?: number;
  /** Told the bytes of values written to `file` (alignment padding excluded). */
  readonly onWritten?: (bytes: number) => void;
}

/** Offsets in the weights file are multiples of this, so each tensor can be mapped alone. */
const ALIGN = 4096;

/**
 * `initializers` with every one of at least `minBytes` moved into `target.file` (each at an
 * aligned offset) and replaced by a reference to it; the others are returned as they are.
 * The array given is not changed.
 */
export function externalizeInitializers(
  initializers: readonly OnnxTensor[],
  target: ExternalData,
): OnnxTensor[] {
  const minBytes = target.minBytes ?? 4096;
  const fd = openSync(target.file, 'w');
  let offset = 0;
  let written = 0;
  try {
    const out = initializers.map((t) => {
      const raw = t.rawData;
      if (!raw || raw.byteLength < minBytes) return t;
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad > 0) {
        writeSync(fd, new Uint8Array(pad));
        offset += pad;
      }
      for (let at = 0; at < raw.byteLength; ) at += writeSync(fd, raw, at, raw.byteLength - at);
      const moved: OnnxTensor = {
        name: t.name,
        dims: t.dims,
        dataType: t.dataType,
        dataLocation: ONNX_DATA_EXTERNAL,
        externalData: [
          { key: 'location', value: target.location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      };
      offset += raw.byteLength;
      written += raw.byteLength;
      return moved;
    });
    target.onWritten?.(written);
    return out;
  } finally {
    closeSync(fd);
  }
}
