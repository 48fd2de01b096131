import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRwkvTsWeights } from '../model/load-rwkv-ts.js';
import { RwkvTsModel } from '../model/rwkv-ts-model.js';
import { anomalyScores } from './anomaly-scores.js';

const dir = fileURLToPath(new URL('../../fixtures/official/', import.meta.url));
const { config, tensors } = loadRwkvTsWeights(`${dir}rwkv-ts-tiny.pth`, { nHead: 2, seqLen: 64, stride: 8 });
const model = new RwkvTsModel(config, tensors);
afterAll(() => model.dispose());

describe('anomalyScores()', () => {
  it('flags a spike in a smooth series and scores against the one-step-ahead forecast', async () => {
    const T = 140;
    const value = (t: number) => Math.sin(t / 7) + (t === 120 ? 25 : 0); // one spike
    const obs = Array.from({ length: T }, (_, t) => ({ key: 's', timestamp: t, values: [value(t)] }));
    const scores = await lastValueFrom(
      from(obs).pipe(anomalyScores({ model, channels: 1, warmup: 20 }), toArray()),
    );
    // Window full at t = 63, first residual at t = 64, scores after 20 residuals: from t = 84.
    expect(scores[0]!.timestamp).toBe(84);
    expect(scores).toHaveLength(T - 84);
    const spike = scores.find((s) => s.timestamp === 120)!;
    expect(spike.anomaly).toBe(true);
    expect(spike.score).toBeGreaterThan(10);
    // (The fixture model is random, not trained: its residuals on the sine drift, so only
    // the spike's margin is asserted, not an absence of false alarms.)
    const before = scores.filter((s) => s.timestamp < 120);
    expect(spike.score).toBeGreaterThan(3 * Math.max(...before.map((s) => s.score)));
    // The residual is the observation minus the forecast from the 64 rows before it.
    const history = Float32Array.from({ length: 64 }, (_, i) => value(120 - 64 + i));
    const forecast = await model.forecast(history, 1, 1);
    expect(spike.residual[0]).toBeCloseTo(value(120) - forecast[0]!, 4);
  });

  it('refuses a warm-up it cannot estimate a scale from', () => {
    expect(() => anomalyScores({ model, channels: 1, warmup: 2 })).toThrow(/warmup/);
  });
});
