import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type BatchStepper,
  batchItems,
  mapConcurrent,
  runStateful,
  type StatefulResult,
  tryMap,
} from './index.js';

describe('operators index', () => {
  it('exports the operators, which compose', async () => {
    const counter: BatchStepper<number, number, number> = {
      initialState: () => 0,
      step: async (batch) =>
        batch.map(({ input, state }) => ({ output: state + input, state: state + input })),
    };
    const results: StatefulResult<{ k: string; x: number }, number, number, string>[] = await lastValueFrom(
      from([
        { k: 'a', x: 1 },
        { k: 'b', x: 2 },
        { k: 'a', x: 3 },
      ]).pipe(runStateful({ model: counter, key: (i) => i.k, input: (i) => i.x }), toArray()),
    );
    expect(results.map((r) => r.ok && `${r.key}=${r.output}`)).toEqual(['a=1', 'b=2', 'a=4']);

    const batches = await lastValueFrom(
      from([1, 2, 3]).pipe(
        batchItems({ maxBatchSize: 2, maxLatencyMs: 10 }),
        mapConcurrent({ concurrency: 2, project: async (b) => b.length }),
        tryMap({ project: (n) => n * 2 }),
        toArray(),
      ),
    );
    expect(batches.map((r) => r.ok && r.value)).toEqual([4, 2]);
  });
});
