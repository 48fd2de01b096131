import { decodeWav } from '@rwkv-streams/audio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SpeechServerMessage } from '../../protocol.js';
import { type StudioServer, startStudio } from '../studio.js';
import { repoFile, SPEECH_WAV } from '../test-support.js';

/**
 * The speech socket: PCM in (float32 or s16, any rate), partial and final transcripts
 * out as they come; every protocol mistake ends that session with an error message and a
 * close code, and the next session works.
 */
let studio: StudioServer;
const wav = repoFile(SPEECH_WAV);
const samples = decodeWav(wav).channels[0]!; // 16 kHz mono

beforeAll(async () => {
  studio = await startStudio({
    limits: { maxSocketMessageBytes: 64 * 1024, maxSpeechSeconds: 30, speechIdleMs: 1500 },
  });
});
afterAll(async () => {
  await studio.close();
});

interface Session {
  readonly messages: SpeechServerMessage[];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;
}

function open(headers: Record<string, string> = {}): Promise<Session> {
  const ws = new WebSocket(`${studio.url.replace('http', 'ws')}/ws/speech`, { headers });
  const messages: SpeechServerMessage[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as SpeechServerMessage));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ messages, closed, ws }));
    ws.on('error', reject);
  });
}

/** Float32 samples as little-endian bytes, in chunks of `n` samples. */
function f32Chunks(x: Float32Array, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < x.length; i += n) {
    const c = x.subarray(i, i + n);
    out.push(Buffer.from(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)));
  }
  return out;
}

describe('the speech socket', () => {
  it('streams partials as the audio arrives, then finals with timed words, then done', async () => {
    const s = await open();
    s.ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'f32le' }));
    for (const c of f32Chunks(samples, 1600)) s.ws.send(c);
    s.ws.send(JSON.stringify({ type: 'stop' }));
    expect(await s.closed).toEqual({ code: 1000, reason: 'done' });
    const types = s.messages.map((m) => m.type);
    expect(s.messages[0]).toEqual({ type: 'ready', method: 'transducer-beam' }); // the default
    expect(types.at(-1)).toBe('done');
    const firstFinal = types.indexOf('final');
    expect(types.indexOf('partial')).toBeGreaterThan(0);
    expect(types.indexOf('partial')).toBeLessThan(firstFinal);
    const finals = s.messages.filter((m) => m.type === 'final');
    expect(finals.length).toBeGreaterThanOrEqual(1);
    for (const f of finals) {
      expect(f.text.length).toBeGreaterThan(0);
      expect(f.words.map((w) => w.word).join(' ')).toBe(f.text.split(/\s+/).join(' '));
      for (const w of f.words) expect(w.end).toBeGreaterThan(w.start);
    }
    // "as naked as at birth": the model hears at least the first word right
    expect(finals[0]!.text.split(' ')[0]).toBe('as');
    const done = s.messages.at(-1) as Extract<SpeechServerMessage, { type: 'done' }>;
    expect(done.seconds).toBeCloseTo(samples.length / 16000, 2);
  });

  it('takes s16 PCM at another rate (resampled) and greedy search, to timed words too', async () => {
    const s = await open();
    // 8 kHz s16: every other sample of the 16 kHz file
    const pcm = Buffer.alloc((samples.length >> 1) * 2);
    for (let i = 0; i < pcm.length / 2; i++)
      pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[2 * i]! * 32768))), 2 * i);
    s.ws.send(
      JSON.stringify({ type: 'start', sampleRate: 8000, encoding: 's16le', method: 'transducer-greedy' }),
    );
    for (let i = 0; i < pcm.length; i += 1600) s.ws.send(pcm.subarray(i, i + 1600));
    s.ws.send(JSON.stringify({ type: 'stop' }));
    expect((await s.closed).code).toBe(1000);
    expect(s.messages[0]).toEqual({ type: 'ready', method: 'transducer-greedy' });
    expect(s.messages.some((m) => m.type === 'final' && m.words.length > 0)).toBe(true);
  });

  const garbage: [string, (ws: WebSocket) => void, RegExp][] = [
    ['audio before start', (ws) => ws.send(Buffer.alloc(64)), /^send a start message first/],
    ['a first message that is not JSON', (ws) => ws.send('hello'), /^the first message is not JSON/],
    ['a start without a rate', (ws) => ws.send('{"type":"start","encoding":"f32le"}'), /^sampleRate must be/],
    [
      'an absurd rate',
      (ws) => ws.send('{"type":"start","sampleRate":5,"encoding":"f32le"}'),
      /^sampleRate must be/,
    ],
    [
      'an unknown encoding',
      (ws) => ws.send('{"type":"start","sampleRate":16000,"encoding":"mp3"}'),
      /^encoding must be/,
    ],
    [
      'an unknown method',
      (ws) => ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le","method":"x"}'),
      /^method must be/,
    ],
    [
      'float32 audio of an odd length',
      (ws) => {
        ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
        ws.send(Buffer.alloc(7));
      },
      /^an audio message of 7 bytes is not whole f32le samples$/,
    ],
    [
      'NaN samples',
      (ws) => {
        ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
        ws.send(Buffer.from(new Float32Array([0, Number.NaN, 0]).buffer));
      },
      /^the audio holds a sample that is not a finite number$/,
    ],
    [
      'a text message that is not stop',
      (ws) => {
        ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
        ws.send('{"type":"pause"}');
      },
      /^after start, send binary audio or \{"type":"stop"\}$/,
    ],
  ];
  for (const [what, send, message] of garbage)
    it(`${what}: an error message, close 1008`, async () => {
      const s = await open();
      send(s.ws);
      const closed = await s.closed;
      expect(closed.code).toBe(1008);
      const err = s.messages.find((m) => m.type === 'error');
      expect(err).toBeDefined();
      expect(err!.type === 'error' && err!.error).toMatch(message);
    });

  it('a message over the size limit closes the socket (1009); idle sessions end; the length is bounded', async () => {
    const big = await open();
    big.ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
    big.ws.send(Buffer.alloc(64 * 1024 + 4));
    expect((await big.closed).code).toBe(1009);

    const idle = await open();
    idle.ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
    expect((await idle.closed).code).toBe(1008);
    expect(idle.messages.at(-1)).toEqual({ type: 'error', error: 'no message for 1.5 s', code: 'IDLE' });

    const long = await open();
    long.ws.send('{"type":"start","sampleRate":16000,"encoding":"f32le"}');
    const second = Buffer.alloc(16000 * 4);
    for (let i = 0; i < 31; i++) long.ws.send(second);
    expect((await long.closed).code).toBe(1000);
    expect(long.messages.find((m) => m.type === 'error')).toEqual({
      type: 'error',
      error: 'a session takes at most 30 s of audio; the rest is not transcribed',
      code: 'TOO_LONG',
    });
    expect(long.messages.at(-1)?.type).toBe('done');
  });

  it('refuses other paths and other sites; after all the garbage a new session still works', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${studio.url.replace('http', 'ws')}/ws/other`);
        ws.on('open', resolve);
        ws.on('error', reject);
      }),
    ).rejects.toThrow(/404/);
    await expect(open({ origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const s = await open();
    s.ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'f32le' }));
    for (const c of f32Chunks(samples, 4000)) s.ws.send(c);
    s.ws.send(JSON.stringify({ type: 'stop' }));
    expect((await s.closed).code).toBe(1000);
    expect(s.messages.filter((m) => m.type === 'final').length).toBeGreaterThanOrEqual(1);
    const stages = studio.metrics.snapshot();
    const decode = stages.find((x) => x.stage === 'speech.decode')!;
    expect(decode.errors).toBeGreaterThanOrEqual(2);
    expect(stages.find((x) => x.stage === 'speech.transcribe')!.itemsOut).toBeGreaterThan(3);
  });
});
