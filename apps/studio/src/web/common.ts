/**
 * What every page shares: calling the API (errors become messages), the studio's limits,
 * drop zones, and small DOM helpers.
 */
import type { ApiError, StudioConfig } from '../protocol.js';

/** An API call that failed: the server's message (or what went wrong on the way). */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Calls the API; the JSON answer, or an ApiFailure carrying the server's `error` message. */
export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiFailure(`the studio server cannot be reached (${(err as Error).message})`, 0);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(`the server answered ${res.status} with something that is not JSON`, res.status);
  }
  if (!res.ok) {
    const e = body as Partial<ApiError>;
    throw new ApiFailure(e.error ?? `the server answered ${res.status}`, res.status, e.code);
  }
  return body as T;
}

/** Sends a file as the raw request body (its type and name with it) to a POST route. */
export function upload<T>(
  path: string,
  file: Blob,
  name: string,
  params: Record<string, string> = {},
): Promise<T> {
  const q = new URLSearchParams({ name, ...params });
  return api<T>(`${path}?${q}`, {
    method: 'POST',
    body: file,
    headers: { 'content-type': file.type || 'application/octet-stream' },
  });
}

let config: Promise<StudioConfig> | undefined;
/** The studio's limits and model facts (fetched once a page). */
export function studioConfig(): Promise<StudioConfig> {
  config ??= api<StudioConfig>('/api/config');
  return config;
}

/** The element with this id, of this type (a page that lacks it is a bug in the page). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** A new element with attributes and children (text or elements). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** "1.2 MB", "340 KB". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

/** Shows a message in a page's status line: an error in red, anything else plain; '' hides it. */
export function setStatus(el: HTMLElement, message: string, kind: 'error' | 'info' | 'busy' = 'info'): void {
  el.textContent = message;
  el.className = `status ${kind}`;
  el.hidden = message === '';
  if (kind === 'error') el.setAttribute('role', 'alert');
  else el.removeAttribute('role');
}

/** The message of anything thrown, for a status line. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Makes `zone` take files dropped on it, and clicks on it open `input` (a file picker);
 * either way `onFile` gets the first file. Keyboard users reach the picker through the
 * zone (Enter or Space).
 */
export function dropZone(zone: HTMLElement, input: HTMLInputElement, onFile: (file: File) => void): void {
  zone.addEventListener('click', () => input.click());
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) onFile(file);
    input.value = '';
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) onFile(file);
  });
}

/** A sample file from the server (`/samples/<name>`) as a File, as if the user had picked it. */
export async function sampleFile(name: string): Promise<File> {
  const res = await fetch(`/samples/${encodeURIComponent(name)}`);
  if (!res.ok) throw new ApiFailure(`the sample ${name} is not available (${res.status})`, res.status);
  const blob = await res.blob();
  return new File([blob], name, { type: blob.type });
}

/**
 * Refuses a file over the upload limit before sending it (the server would refuse it too,
 * after the upload): an ApiFailure with the same kind of message.
 */
export async function checkSize(file: File): Promise<void> {
  const { maxUploadBytes } = await studioConfig();
  if (file.size > maxUploadBytes)
    throw new ApiFailure(
      `${file.name} is ${formatBytes(file.size)}; the studio takes files of at most ${formatBytes(maxUploadBytes)}`,
      413,
      'TOO_LARGE',
    );
}

/** Fills the page's `data-limit` spans with the server's actual limits (they can be changed with flags). */
function showLimits(): void {
  const spans = document.querySelectorAll<HTMLElement>('[data-limit]');
  if (spans.length === 0) return;
  studioConfig().then(
    (c) => {
      for (const el of spans) {
        if (el.dataset['limit'] === 'upload') el.textContent = formatBytes(c.maxUploadBytes);
        if (el.dataset['limit'] === 'pixels')
          el.textContent = `${(c.maxImagePixels / 1e6).toFixed(1)} megapixels`;
      }
    },
    // the page's own calls report a server that cannot be reached
    () => undefined,
  );
}

showLimits();
