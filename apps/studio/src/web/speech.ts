/**
 * The Speech page: audio from the microphone (an AudioWorklet) or a file (decoded by the
 * browser, played to the server in real time) goes over the speech WebSocket as float32
 * PCM; partial results replace the live line as they change, finals are listed with times.
 */
import type { SpeechMethod, SpeechServerMessage, SpeechWord } from '../protocol.js';
import { byId, checkSize, formatBytes, h, messageOf, sampleFile, setStatus } from './common.js';

/** The rate we ask the browser for: the model's (the browser resamples the microphone). */
const RATE = 16000;
/** Audio per message: 100 ms, as a microphone would deliver it. */
const CHUNK_SECONDS = 0.1;

const recordButton = byId<HTMLButtonElement>('record');
const uploadButton = byId<HTMLButtonElement>('upload');
const sampleButton = byId<HTMLButtonElement>('sample');
const fileInput = byId<HTMLInputElement>('audio-file');
const methodSelect = byId<HTMLSelectElement>('method');
const status = byId('status');
const partial = byId('partial');
const finals = byId('finals');
const level = byId('level');

/** One connection to the speech socket: send audio, get results, `finished` when all is decoded. */
class SpeechSocket {
  private readonly ws: WebSocket;
  private readonly opened: Promise<void>;
  /** Resolves after `done` (everything sent was decoded), rejects on an error message or a broken socket. */
  readonly finished: Promise<number>;
  private failed = false;

  constructor(sampleRate: number, method: SpeechMethod) {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    this.ws = new WebSocket(`${proto}://${location.host}/ws/speech`);
    this.ws.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => {
        this.ws.send(JSON.stringify({ type: 'start', sampleRate, encoding: 'f32le', method }));
        resolve();
      });
      this.ws.addEventListener('error', () => reject(new Error('cannot connect to the speech socket')));
    });
    this.finished = new Promise((resolve, reject) => {
      let done: number | undefined;
      this.ws.addEventListener('message', (e) => {
        const msg = JSON.parse(String(e.data)) as SpeechServerMessage;
        if (msg.type === 'done') done = msg.seconds;
        else if (msg.type === 'error') {
          this.failed = true;
          reject(new Error(msg.error));
        } else onResult(msg);
      });
      this.ws.addEventListener('close', (e) => {
        if (done !== undefined) resolve(done);
        else if (!this.failed)
          reject(new Error(`the speech socket closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`));
      });
    });
    // The page reports `finished`'s failure; this keeps an early one from being unhandled.
    this.finished.catch(() => undefined);
  }

  /** Waits until the socket is open (and the start message sent). */
  ready(): Promise<void> {
    return this.opened;
  }

  send(samples: Float32Array): void {
    if (this.ws.readyState === WebSocket.OPEN && samples.length > 0) this.ws.send(samples);
  }

  /** No more audio: the server decodes to the end, sends the last final and `done`. */
  stop(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'stop' }));
  }

  close(): void {
    this.ws.close();
  }
}

const fmt = (s: number) => s.toFixed(2);

/** Where the audio of the session in progress comes from ("microphone" or the file's name), shown on its finals. */
let source = '';

function onResult(msg: SpeechServerMessage): void {
  if (msg.type === 'partial') {
    partial.textContent = msg.text;
    partial.classList.toggle('empty', msg.text === '');
  } else if (msg.type === 'final') {
    partial.textContent = '';
    partial.classList.add('empty');
    const words = msg.words.map((w: SpeechWord) =>
      h('span', { class: 'word', title: `${fmt(w.start)}–${fmt(w.end)} s` }, w.word),
    );
    finals.append(
      h(
        'li',
        { class: 'final' },
        h('span', { class: 'times' }, `${fmt(msg.start)}–${fmt(msg.end)} s`),
        h('span', { class: 'words' }, ...words.flatMap((w, i) => (i ? [' ', w] : [w]))),
        h('span', { class: 'source-tag' }, source),
      ),
    );
    byId('no-finals').hidden = true;
  }
}

/** Cuts whatever block sizes arrive into CHUNK_SECONDS messages. */
class Chunker {
  private held: number[] = [];
  constructor(
    private readonly size: number,
    private readonly out: (samples: Float32Array) => void,
  ) {}
  push(samples: Float32Array): void {
    for (const s of samples) this.held.push(s);
    while (this.held.length >= this.size) this.out(Float32Array.from(this.held.splice(0, this.size)));
  }
  flush(): void {
    if (this.held.length) this.out(Float32Array.from(this.held.splice(0)));
  }
}

function showLevel(samples: Float32Array): void {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  // dBFS from -60 to 0 mapped onto the meter
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  level.style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
}

let busy = false;
function setBusy(on: boolean, recording = false): void {
  busy = on;
  uploadButton.disabled = on;
  sampleButton.disabled = on;
  methodSelect.disabled = on;
  recordButton.disabled = on && !recording;
  recordButton.textContent = recording ? '■ Stop' : '● Record';
  recordButton.classList.toggle('recording', recording);
  if (!on) level.style.width = '0';
}

function startSession(from: string): void {
  source = from;
  partial.textContent = '';
  partial.classList.add('empty');
}

/** What stops the recording in progress (set while recording). */
let stopRecording: (() => void) | undefined;

async function record(): Promise<void> {
  if (stopRecording) {
    stopRecording();
    return;
  }
  if (busy) return;
  setBusy(true, true);
  startSession('microphone');
  let stream: MediaStream | undefined;
  let context: AudioContext | undefined;
  let socket: SpeechSocket | undefined;
  try {
    if (!navigator.mediaDevices?.getUserMedia)
      throw new Error('this browser gives no microphone access here (it needs https or localhost)');
    stream = await navigator.mediaDevices
      .getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      })
      .catch((err: unknown) => {
        const name = (err as DOMException)?.name;
        if (name === 'NotAllowedError')
          throw new Error('microphone access was refused (allow it for this page)');
        if (name === 'NotFoundError') throw new Error('no microphone was found');
        throw err;
      });
    context = new AudioContext({ sampleRate: RATE });
    await context.audioWorklet.addModule('/js/pcm-worklet.js');
    socket = new SpeechSocket(context.sampleRate, methodSelect.value as SpeechMethod);
    await socket.ready();
    const s = socket;
    const chunker = new Chunker(Math.round(context.sampleRate * CHUNK_SECONDS), (c) => {
      showLevel(c);
      s.send(c);
    });
    const node = new AudioWorkletNode(context, 'pcm-capture');
    node.port.onmessage = (e: MessageEvent<Float32Array>) => chunker.push(e.data);
    // A muted path to the output keeps the graph pulling samples through the worklet.
    const mute = context.createGain();
    mute.gain.value = 0;
    context.createMediaStreamSource(stream).connect(node).connect(mute).connect(context.destination);
    setStatus(status, 'Recording… speak, then press Stop.', 'busy');
    const stopped = new Promise<void>((resolve) => {
      stopRecording = resolve;
    });
    await Promise.race([stopped, s.finished]);
    stopRecording = undefined;
    node.port.onmessage = null;
    chunker.flush();
    setBusy(true, false);
    recordButton.disabled = true;
    setStatus(status, 'Finishing the transcript…', 'busy');
    s.stop();
    const seconds = await s.finished;
    setStatus(status, `Done: ${fmt(seconds)} s of audio transcribed.`, 'info');
  } catch (err) {
    setStatus(status, messageOf(err), 'error');
  } finally {
    stopRecording = undefined;
    for (const t of stream?.getTracks() ?? []) t.stop();
    await context?.close().catch(() => undefined);
    socket?.close();
    setBusy(false);
  }
}

/** Decodes any audio file the browser reads into mono samples at RATE. */
async function decodeFile(file: File): Promise<Float32Array> {
  const bytes = await file.arrayBuffer();
  const context = new OfflineAudioContext(1, 1, RATE);
  let audio: AudioBuffer;
  try {
    audio = await context.decodeAudioData(bytes);
  } catch {
    throw new Error(`${file.name} is not audio this browser can decode (try a WAV file)`);
  }
  const mono = new Float32Array(audio.length);
  for (let c = 0; c < audio.numberOfChannels; c++) {
    const ch = audio.getChannelData(c);
    for (let i = 0; i < mono.length; i++) mono[i]! += ch[i]! / audio.numberOfChannels;
  }
  return mono;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function transcribeFile(file: File): Promise<void> {
  if (busy) return;
  setBusy(true);
  startSession(file.name);
  let socket: SpeechSocket | undefined;
  try {
    await checkSize(file);
    setStatus(status, `Decoding ${file.name} (${formatBytes(file.size)})…`, 'busy');
    const samples = await decodeFile(file);
    const seconds = samples.length / RATE;
    socket = new SpeechSocket(RATE, methodSelect.value as SpeechMethod);
    await socket.ready();
    const n = Math.round(RATE * CHUNK_SECONDS);
    const t0 = performance.now();
    // Played in real time, as a microphone would give it, so partials arrive as they would live.
    for (let at = 0; at < samples.length; at += n) {
      const chunk = samples.subarray(at, at + n);
      showLevel(chunk);
      socket.send(chunk.slice());
      setStatus(
        status,
        `Streaming ${file.name}: ${fmt(Math.min(seconds, (at + n) / RATE))} of ${fmt(seconds)} s`,
        'busy',
      );
      const due = t0 + ((at + n) / RATE) * 1000;
      await Promise.race([
        sleep(Math.max(0, due - performance.now())),
        socket.finished.then(() => undefined),
      ]);
    }
    socket.stop();
    const done = await socket.finished;
    setStatus(status, `Done: ${fmt(done)} s of ${file.name} transcribed.`, 'info');
  } catch (err) {
    setStatus(status, messageOf(err), 'error');
  } finally {
    socket?.close();
    setBusy(false);
  }
}

recordButton.addEventListener('click', () => void record());
uploadButton.addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  fileInput.value = '';
  if (file) void transcribeFile(file);
});
sampleButton.addEventListener('click', async () => {
  try {
    await transcribeFile(await sampleFile('speech.wav'));
  } catch (err) {
    setStatus(status, messageOf(err), 'error');
  }
});
byId('clear').addEventListener('click', () => {
  finals.replaceChildren();
  byId('no-finals').hidden = false;
});
