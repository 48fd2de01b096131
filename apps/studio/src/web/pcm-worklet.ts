/**
 * The microphone's AudioWorklet: hands each block of input samples (first channel) to the
 * page, which sends them to the speech socket. It runs on the audio thread, so it only
 * copies; batching and sending happen on the page.
 *
 * The worklet scope's names are declared here: TypeScript's DOM library does not have them.
 */
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

class PcmCapture extends AudioWorkletProcessor {
  process(inputs: Float32Array[][]): boolean {
    const samples = inputs[0]?.[0];
    // The block is reused by the audio thread after this returns: send a copy.
    if (samples && samples.length > 0) this.port.postMessage(samples.slice());
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);

export {};
