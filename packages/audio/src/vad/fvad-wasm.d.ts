/** @echogarden/fvad-wasm ships no types: an Emscripten module factory (see webrtc-vad.ts for what we use). */
declare module '@echogarden/fvad-wasm' {
  const fvad: () => Promise<unknown>;
  export default fvad;
}
