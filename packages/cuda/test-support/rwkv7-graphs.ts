import { buildRwkvGraph, type Graph, randomRwkvWeights } from '@rwkv-streams/core';

/**
 * A small random RWKV-7 (2 layers of 128, heads of 64, vocabulary 50) as the plan sees it:
 * its recurrent step graph and its sequence graph, for the CPU-side tests of the plan's passes.
 */
export function smallRwkv7Graphs(seed: number): { step: Graph; seq: Graph } {
  const { config, tensors } = randomRwkvWeights(
    { version: 7, nLayer: 2, nEmbd: 128, nVocab: 50, headSize: 64 },
    seed,
  );
  return {
    step: buildRwkvGraph(config, tensors, { mode: 'recurrent' }),
    seq: buildRwkvGraph(config, tensors, { mode: 'sequence' }),
  };
}
