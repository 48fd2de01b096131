import { BadInputError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { defaultPollMicros } from './runtime.js';

describe('how long a call polls for its results', () => {
  it('4000 us unless RWKV_STREAMS_CUDA_POLL_US says otherwise (0: a worker thread only)', () => {
    expect(defaultPollMicros({})).toBe(4000);
    expect(defaultPollMicros({ RWKV_STREAMS_CUDA_POLL_US: '' })).toBe(4000);
    expect(defaultPollMicros({ RWKV_STREAMS_CUDA_POLL_US: '0' })).toBe(0);
    expect(defaultPollMicros({ RWKV_STREAMS_CUDA_POLL_US: '250' })).toBe(250);
  });
  it('a value that is not microseconds >= 0 is a typed error naming the variable', () => {
    for (const bad of ['-1', 'soon', 'Infinity']) {
      expect(() => defaultPollMicros({ RWKV_STREAMS_CUDA_POLL_US: bad })).toThrow(BadInputError);
      expect(() => defaultPollMicros({ RWKV_STREAMS_CUDA_POLL_US: bad })).toThrow(
        /RWKV_STREAMS_CUDA_POLL_US/,
      );
    }
  });
});
