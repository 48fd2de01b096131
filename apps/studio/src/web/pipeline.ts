/**
 * The Pipeline page: the stages every studio request goes through, with their live
 * figures (items in and out, errors, queue, latency quantiles, throughput), polled from
 * `/api/metrics` every second.
 */
import type { MetricsResponse, StageFigures } from '../protocol.js';
import { api, byId, h, messageOf, setStatus } from './common.js';

/** How the stages chain, per page (the registry only knows stages, not flows). */
const FLOWS: readonly {
  readonly name: string;
  readonly source: string;
  readonly stages: readonly string[];
}[] = [
  { name: 'Classify', source: 'image upload', stages: ['classify'] },
  { name: 'Segment', source: 'image upload', stages: ['segment', 'segment.overlay'] },
  { name: 'Forecast', source: 'CSV upload', stages: ['forecast.csv', 'forecast'] },
  { name: 'Speech', source: 'microphone / file', stages: ['speech.decode', 'speech.transcribe'] },
];

/**
 * Stages that emit several results per item or none (a transcript event is not the answer
 * to one audio chunk): their "in flight" (items in minus out) means nothing, so it is not shown.
 */
const MANY_TO_MANY = new Set(['speech.transcribe']);

const POLL_MS = 1000;
const flows = byId('flows');
const tbody = byId('stages-body');
const status = byId('status');
const updated = byId('updated');

const ms = (s: number) =>
  s === 0
    ? '–'
    : s < 0.001
      ? `${(s * 1000).toFixed(2)} ms`
      : s < 1
        ? `${(s * 1000).toFixed(1)} ms`
        : `${s.toFixed(2)} s`;
const rate = (r: number) => (r === 0 ? '–' : `${r < 10 ? r.toFixed(2) : r.toFixed(0)}/s`);

function stageBox(name: string, s: StageFigures | undefined): HTMLElement {
  return h(
    'div',
    {
      class: `stage${s && s.inFlight > 0 && !MANY_TO_MANY.has(name) ? ' active' : ''}${s && s.errors > 0 ? ' has-errors' : ''}`,
      'data-stage': name,
    },
    h('div', { class: 'stage-name' }, name),
    h(
      'div',
      { class: 'stage-figures' },
      h('span', { title: 'items in / out' }, `${s?.itemsIn ?? 0} → ${s?.itemsOut ?? 0}`),
      h('span', { title: 'median latency' }, `p50 ${ms(s?.latency.p50 ?? 0)}`),
      h('span', { class: s && s.errors > 0 ? 'errors' : 'quiet', title: 'errors' }, `${s?.errors ?? 0} err`),
    ),
  );
}

function render(m: MetricsResponse): void {
  const byName = new Map(m.stages.map((s) => [s.stage, s]));
  flows.replaceChildren(
    ...FLOWS.map((f) =>
      h(
        'div',
        { class: 'flow' },
        h('div', { class: 'flow-name' }, f.name),
        h(
          'div',
          { class: 'flow-stages' },
          h('div', { class: 'source' }, f.source),
          ...f.stages.flatMap((s) => [
            h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
            stageBox(s, byName.get(s)),
          ]),
        ),
      ),
    ),
  );
  const rows = m.stages.map((s) =>
    h(
      'tr',
      { 'data-stage': s.stage },
      h('th', { scope: 'row' }, s.stage),
      ...[
        String(s.itemsIn),
        String(s.itemsOut),
        String(s.dropped),
        String(s.errors),
        MANY_TO_MANY.has(s.stage) ? '–' : `${s.inFlight} (max ${s.maxInFlight})`,
        rate(s.throughput),
        ms(s.latency.p50),
        ms(s.latency.p90),
        ms(s.latency.p99),
        ms(s.latency.max),
      ].map((v, i) => h('td', i === 3 && s.errors > 0 ? { class: 'errors' } : {}, v)),
    ),
  );
  tbody.replaceChildren(
    ...(rows.length
      ? rows
      : [
          h(
            'tr',
            {},
            h(
              'td',
              { colspan: '11', class: 'empty' },
              'No requests yet: use the other pages and the figures appear here.',
            ),
          ),
        ]),
  );
  updated.textContent = `Updated ${new Date().toLocaleTimeString()} · server up ${Math.round(m.uptime)} s`;
}

async function poll(): Promise<void> {
  try {
    render(await api<MetricsResponse>('/api/metrics'));
    setStatus(status, '', 'info');
  } catch (err) {
    setStatus(status, `Cannot read the figures: ${messageOf(err)}`, 'error');
  }
  setTimeout(() => void poll(), POLL_MS);
}

void poll();
