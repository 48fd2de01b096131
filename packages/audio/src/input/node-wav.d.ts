// node-wav ships no types; this is the part of its API that wav.ts uses.
declare module 'node-wav' {
  /** Decoded audio: one Float32Array per channel. Undefined when there is no data chunk. */
  export function decode(
    buffer: ArrayBuffer,
  ): { sampleRate: number; channelData: Float32Array[] } | undefined;
  const nodeWav: { decode: typeof decode };
  export default nodeWav;
}
