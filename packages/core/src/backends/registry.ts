import { BackendUnavailableError } from '../errors.js';
import type { Backend, Device } from './backend.js';
import { onnxBackend } from './onnx/onnx-backend.js';

const registry = new Map<string, Backend>([[onnxBackend.name, onnxBackend]]);

/**
 * Registers a backend. The core registers onnxruntime itself; other backends (CUDA)
 * register on import, and the most recently registered backend for a device wins.
 */
export function registerBackend(backend: Backend): void {
  registry.delete(backend.name);
  registry.set(backend.name, backend);
}

/** The registered backend that serves `device`. */
export function backendFor(device: Device): Backend {
  const found = [...registry.values()].reverse().find((b) => b.devices.includes(device));
  if (!found) {
    const hint =
      device === 'cuda' ? ' Install and import @rwkv-streams/cuda to register the CUDA backend.' : '';
    throw new BackendUnavailableError(
      `no backend registered for device '${device}' (registered: ${[...registry.keys()].join(', ')}).${hint}`,
      { field: 'device' },
    );
  }
  return found;
}

/** Names of the registered backends. */
export function registeredBackends(): string[] {
  return [...registry.keys()];
}

let fallbackDevice: Device = 'cpu';

/**
 * Sets the device models use when their options name none ('cpu' unless changed): one
 * switch to move a whole program, or a whole test suite, to another device.
 */
export function setDefaultDevice(device: Device): void {
  fallbackDevice = device;
}

/** The device models use when their options name none. */
export function defaultDevice(): Device {
  return fallbackDevice;
}
