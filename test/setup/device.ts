/**
 * Runs the whole suite on another device: `RWKV_STREAMS_TEST_DEVICE=cuda npx vitest run`
 * imports the CUDA backend (which registers itself) and makes 'cuda' the default device,
 * so every test that builds a model without naming a device runs it there. Unset, the
 * suite runs on the CPU as usual.
 */
import { setDefaultDevice } from '@rwkv-streams/core';

const device = process.env['RWKV_STREAMS_TEST_DEVICE'];
if (device === 'cuda') {
  await import('@rwkv-streams/cuda');
  setDefaultDevice('cuda');
} else if (device && device !== 'cpu') {
  throw new Error(`RWKV_STREAMS_TEST_DEVICE=${device}: expected 'cpu' or 'cuda'`);
}
