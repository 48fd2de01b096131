import { type HostTensor, hostTensor, type RwkvConfig, randomRwkvWeights } from '@rwkv-streams/core';

/**
 * Random RWKV-7 weights of a shape, made quickly (speed does not depend on the values):
 * two random layers of the full width (layer 0 is special), repeated for layers 2..L-1,
 * and the embedding and head filled by a fast generator.
 */
export function benchWeights(
  layers: number,
  embd: number,
  vocab: number,
): { config: RwkvConfig; tensors: Map<string, HostTensor> } {
  const small = randomRwkvWeights({ version: 7, nLayer: 2, nEmbd: embd, nVocab: 16, headSize: 64 }, 1);
  const tensors = new Map<string, HostTensor>();
  let s = 12345;
  const fill = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = (s / 4294967296 - 0.5) * 2 * scale;
    }
    return a;
  };
  for (const [name, t] of small.tensors) {
    if (name === 'emb.weight') tensors.set(name, hostTensor([vocab, embd], fill(vocab * embd, 1)));
    else if (name === 'head.weight')
      tensors.set(name, hostTensor([vocab, embd], fill(vocab * embd, 1 / Math.sqrt(embd))));
    else if (!name.startsWith('blocks.1.')) tensors.set(name, t);
  }
  for (let l = 1; l < layers; l++)
    for (const [name, t] of small.tensors)
      if (name.startsWith('blocks.1.')) tensors.set(`blocks.${l}.${name.slice('blocks.1.'.length)}`, t);
  return { config: { ...small.config, nLayer: layers, nVocab: vocab }, tensors };
}
