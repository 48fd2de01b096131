import { describe, expect, it } from 'vitest';
import { defaultCpuThreads, hardwareThreadsPerCore } from './cpu-threads.js';

describe('default CPU threads', () => {
  it('reads the hardware threads of a core from a sibling list', () => {
    expect(hardwareThreadsPerCore('0\n')).toBe(1);
    expect(hardwareThreadsPerCore('0,64')).toBe(2);
    expect(hardwareThreadsPerCore('0-1')).toBe(2);
    expect(hardwareThreadsPerCore('0-3,8')).toBe(5);
    // unknown or unreadable: one thread a core
    expect(hardwareThreadsPerCore(undefined)).toBe(1);
    expect(hardwareThreadsPerCore('garbage')).toBe(1);
  });

  it('takes one thread a physical core, at least one', () => {
    expect(defaultCpuThreads(2, () => '0')).toBe(2);
    expect(defaultCpuThreads(16, () => '0,8')).toBe(8);
    expect(defaultCpuThreads(1, () => '0-1')).toBe(1);
    expect(defaultCpuThreads(6, () => undefined)).toBe(6);
    expect(defaultCpuThreads()).toBeGreaterThanOrEqual(1);
  });
});
