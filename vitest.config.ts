import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // One module instance per package: tests import the sources, and so must every package
    // they load (the backend registry is module state; a second copy from dist/ would be a
    // second registry).
    alias: {
      '@rwkv-streams/audio': src('audio'),
      '@rwkv-streams/core': src('core'),
      '@rwkv-streams/cpu-native': src('cpu-native'),
      '@rwkv-streams/cuda': src('cuda'),
      '@rwkv-streams/pipelines': fileURLToPath(new URL('./apps/pipelines/src/index.ts', import.meta.url)),
      '@rwkv-streams/timeseries': src('timeseries'),
      '@rwkv-streams/vision': src('vision'),
    },
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'apps/studio/test/**/*.test.ts',
    ],
    setupFiles: ['test/setup/device.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
