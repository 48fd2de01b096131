/** The Images page: an image classified (labels with probability bars) or segmented (the overlay). */
import type { ClassifyResponse, SegmentResponse } from '../protocol.js';
import { byId, checkSize, dropZone, h, messageOf, sampleFile, setStatus, upload } from './common.js';

type Task = 'classify' | 'segment';

const drop = byId('drop');
const input = byId<HTMLInputElement>('file');
const status = byId('status');
const results = byId('results');
const preview = byId<HTMLImageElement>('preview');
const caption = byId('caption');
const labels = byId('labels');
const overlayFigure = byId('overlay-figure');
const overlay = byId<HTMLImageElement>('overlay');
const legend = byId('legend');

const task = (): Task =>
  (document.querySelector<HTMLInputElement>('input[name="task"]:checked')?.value as Task) ?? 'classify';

let previewUrl: string | undefined;
let current: File | undefined;

function showPreview(file: File): void {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  preview.src = previewUrl;
  preview.alt = file.name;
}

function showLabels(r: ClassifyResponse): void {
  labels.replaceChildren(
    h('h2', {}, 'Classes'),
    ...r.top.map((t, i) => {
      const pct = `${(100 * t.probability).toFixed(1)}%`;
      const bar = h('span', { class: 'bar-fill' });
      bar.style.width = `${Math.max(0.5, 100 * t.probability)}%`;
      return h(
        'div',
        { class: i === 0 ? 'label-row top' : 'label-row', 'data-label': t.label },
        h('span', { class: 'label-name' }, t.label),
        h('span', { class: 'bar' }, bar),
        h('span', { class: 'label-pct' }, pct),
      );
    }),
  );
  labels.hidden = false;
  overlayFigure.hidden = true;
}

function showOverlay(r: SegmentResponse): void {
  overlay.src = r.overlay;
  overlay.alt = `${r.name} with the classes found coloured`;
  legend.replaceChildren(
    ...(r.found.length === 0
      ? [h('span', {}, 'no digits found')]
      : r.found.map((f) => {
          const swatch = h('span', { class: 'swatch' });
          swatch.style.background = f.color;
          return h(
            'span',
            { class: 'legend-item', 'data-label': f.label },
            swatch,
            `${f.label} `,
            h('small', {}, `${(100 * f.share).toFixed(1)}%`),
          );
        })),
  );
  overlayFigure.hidden = false;
  labels.hidden = true;
}

async function run(file: File): Promise<void> {
  current = file;
  const t = task();
  try {
    await checkSize(file);
    setStatus(status, `${t === 'classify' ? 'Classifying' : 'Segmenting'} ${file.name}…`, 'busy');
    showPreview(file);
    results.hidden = false;
    labels.hidden = true;
    overlayFigure.hidden = true;
    if (t === 'classify') {
      const r = await upload<ClassifyResponse>('/api/classify', file, file.name, { top: '5' });
      showLabels(r);
      caption.textContent = `${r.name} · ${r.width}×${r.height} · ${r.ms} ms`;
      setStatus(status, `${r.name}: ${r.top[0]?.label ?? '?'}`, 'info');
    } else {
      const r = await upload<SegmentResponse>('/api/segment', file, file.name);
      showOverlay(r);
      caption.textContent = `${r.name} · ${r.width}×${r.height} · ${r.ms} ms`;
      setStatus(
        status,
        `${r.name}: ${r.found.length} ${r.found.length === 1 ? 'class' : 'classes'} found`,
        'info',
      );
    }
  } catch (err) {
    results.hidden = true;
    setStatus(status, messageOf(err), 'error');
  }
}

dropZone(drop, input, (file) => void run(file));
for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-sample]'))
  b.addEventListener('click', async () => {
    const radio = document.querySelector<HTMLInputElement>(
      `input[name="task"][value="${b.dataset['task']}"]`,
    );
    if (radio) radio.checked = true;
    try {
      await run(await sampleFile(b.dataset['sample']!));
    } catch (err) {
      setStatus(status, messageOf(err), 'error');
    }
  });
// Switching the task runs the image shown through the other model.
for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="task"]'))
  radio.addEventListener('change', () => {
    if (current) void run(current);
  });
