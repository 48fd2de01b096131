/**
 * The Forecast page: a CSV is forecast by the RWKV-TS model; one column's history and
 * forecast are drawn with chart.js (hover for values), the column picked from a list.
 */
import type { Chart as ChartClass, ChartConfiguration } from 'chart.js';
import type { ForecastResponse } from '../protocol.js';
import {
  byId,
  checkSize,
  dropZone,
  messageOf,
  sampleFile,
  setStatus,
  studioConfig,
  upload,
} from './common.js';

/** chart.js's browser build, loaded before this script by the page (`window.Chart`). */
const Chart = (window as unknown as { Chart?: typeof ChartClass }).Chart;

const drop = byId('drop');
const input = byId<HTMLInputElement>('file');
const status = byId('status');
const controls = byId('controls');
const columnSelect = byId<HTMLSelectElement>('column');
const horizonInput = byId<HTMLInputElement>('horizon');
const canvas = byId<HTMLCanvasElement>('chart');
const chartBox = byId('chart-box');
const summary = byId('summary');

let chart: ChartClass<'line', (number | null)[], string> | undefined;
let result: ForecastResponse | undefined;
let file: File | undefined;

function draw(r: ForecastResponse, column: string): void {
  const c = r.columns.indexOf(column);
  if (c < 0) return;
  const hist = r.history.values[c]!;
  const fc = r.forecast.values[c]!;
  const stepLabels = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => `t${from + i >= 0 ? '+' : ''}${from + i}`);
  const labels = [
    ...(r.history.times ?? stepLabels(hist.length, -hist.length + 1)),
    ...(r.forecast.times ?? stepLabels(fc.length, 1)),
  ];
  // The forecast line starts at the last history point so the two lines join.
  const history = [...hist, ...fc.map(() => null)];
  const forecast = [...hist.map((_, i) => (i === hist.length - 1 ? hist[i]! : null)), ...fc];
  const config: ChartConfiguration<'line', (number | null)[], string> = {
    type: 'line',
    data: {
      labels,
      datasets: [
        {
          label: `${column} history`,
          data: history,
          borderColor: '#2563eb',
          backgroundColor: '#2563eb',
          borderWidth: 1.5,
          pointRadius: 0,
        },
        {
          label: `${column} forecast`,
          data: forecast,
          borderColor: '#ea580c',
          backgroundColor: '#ea580c',
          borderWidth: 2,
          borderDash: [5, 3],
          pointRadius: 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { position: 'top', align: 'end', labels: { usePointStyle: true, pointStyle: 'line' } },
        tooltip: {
          callbacks: {
            label: (item) =>
              item.raw === null ? '' : `${item.dataset.label}: ${(item.raw as number).toFixed(3)}`,
          },
          filter: (item) => item.raw !== null,
        },
      },
      scales: {
        x: {
          ticks: {
            maxTicksLimit: 8,
            maxRotation: 0,
            // "2018-06-12 20:00:00" -> "06-12 20:00": the year and seconds only crowd the axis
            callback(value) {
              const label = this.getLabelForValue(Number(value));
              return /^\d{4}-\d\d-\d\d \d\d:\d\d/.test(label) ? label.slice(5, 16) : label;
            },
          },
          grid: { display: false },
        },
        y: { title: { display: true, text: column } },
      },
    },
  };
  if (!Chart) throw new Error('the chart library did not load');
  chart?.destroy();
  chart = new Chart(canvas, config);
  chartBox.hidden = false;
  chartBox.dataset['column'] = column;
  chartBox.dataset['points'] = String(hist.length + fc.length);
}

async function run(f: File): Promise<void> {
  file = f;
  try {
    await checkSize(f);
    setStatus(status, `Forecasting ${f.name}…`, 'busy');
    const r = await upload<ForecastResponse>('/api/forecast', f, f.name, {
      horizon: horizonInput.value || '96',
    });
    result = r;
    const keep = columnSelect.value;
    columnSelect.replaceChildren(...r.columns.map((c) => new Option(c, c)));
    columnSelect.value = r.columns.includes(keep) ? keep : r.columns[r.columns.length - 1]!;
    controls.hidden = false;
    draw(r, columnSelect.value);
    const last = r.forecast.times?.[r.forecast.times.length - 1];
    summary.textContent = `${r.name}: ${r.rows} rows; the last ${r.history.values[0]!.length} drawn as history, ${r.horizon} forecast${last ? ` (to ${last})` : ''} in ${r.ms} ms.`;
    setStatus(status, '', 'info');
  } catch (err) {
    setStatus(status, messageOf(err), 'error');
  }
}

dropZone(drop, input, (f) => void run(f));
columnSelect.addEventListener('change', () => {
  if (result) draw(result, columnSelect.value);
});
horizonInput.addEventListener('change', () => {
  if (file) void run(file);
});
byId('sample').addEventListener('click', async () => {
  try {
    await run(await sampleFile('ETTh1-last-1000.csv'));
  } catch (err) {
    setStatus(status, messageOf(err), 'error');
  }
});
// Say what the model expects, from the model's own card.
studioConfig().then(
  (c) => {
    if (!c.forecast) return;
    byId('expects').textContent =
      `a date column and ${c.forecast.columns.join(', ')}; at least ${c.forecast.seqLen} rows (it looks back ${c.forecast.seqLen} and forecasts up to ${c.forecast.predLen})`;
    horizonInput.max = String(c.forecast.predLen);
  },
  (err: unknown) => setStatus(status, messageOf(err), 'error'),
);
