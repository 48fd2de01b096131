import koffi from 'koffi';

/** The functions every generated library exports (emit-graph.ts writes them). */
export interface GraphLibrary {
  setThreads(n: number): void;
  errorMessage(): string;
  /** Binds input i of graph g to host memory for the next runs. */
  bindInput(g: number, i: number, data: Float32Array | Int32Array): void;
  /** Binds output i of graph g to host memory it is written into. */
  bindOutput(g: number, i: number, data: Float32Array | Int32Array): void;
  setWeight(i: number, data: Float32Array, n: number): void;
  /** Returns 1 when stored as int4 blocks, 0 as float32. */
  setMatrix(i: number, data: Float32Array, rows: number, cols: number, int4: boolean): number;
  weightBytes(): number;
  /** Gives the C allocator's free pages back to the system (glibc's `malloc_trim`). */
  trim(): void;
  /** Runs graph g for B streams, T steps and P positions: 0, or 1 with errorMessage() set. */
  run(g: number, batch: number, time: number, positions: number): number;
  /**
   * Frees what the library holds; no call after this one. The library stays mapped: unloading
   * it could unload libgomp under its parked worker threads.
   */
  close(): void;
}

/**
 * Opens a built library. Its state (weights, buffers) is static data, and opening one path
 * twice in a process shares it: graphs of the same shape share one cached build (the key is
 * the source, not the weights), so the backend opens a copy of that file per compiled graph.
 */
export function openGraphLibrary(path: string): GraphLibrary {
  const lib = koffi.load(path);
  const fn = (signature: string) => lib.func(signature) as (...args: unknown[]) => unknown;
  const setThreads = fn('void rs_set_threads(int n)');
  const errorMessage = fn('const char *rs_error_message(void)');
  const bindInput = fn('void rs_bind_input(int g, int i, void *p)');
  const bindOutput = fn('void rs_bind_output(int g, int i, void *p)');
  const setWeight = fn('void rs_set_weight(int i, const float *data, int64_t n)');
  const setMatrix = fn('int rs_set_matrix(int i, const float *data, int64_t rows, int64_t cols, int int4)');
  const weightBytes = fn('int64_t rs_weight_bytes(void)');
  const trim = fn('void rs_trim(void)');
  const run = fn('int rs_run(int g, int64_t b, int64_t t, int64_t p)');
  const free = fn('void rs_free(void)');
  return {
    setThreads: (n) => void setThreads(n),
    errorMessage: () => String(errorMessage() ?? ''),
    bindInput: (g, i, data) => void bindInput(g, i, data),
    bindOutput: (g, i, data) => void bindOutput(g, i, data),
    setWeight: (i, data, n) => void setWeight(i, data, n),
    setMatrix: (i, data, rows, cols, int4) => Number(setMatrix(i, data, rows, cols, int4 ? 1 : 0)),
    weightBytes: () => Number(weightBytes()),
    trim: () => void trim(),
    run: (g, batch, time, positions) => Number(run(g, batch, time, positions)),
    close: () => void free(),
  };
}
