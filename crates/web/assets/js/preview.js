// Previews in a dialog, from the download URL (ranged GETs; nothing is transcoded):
// images, audio and video the browser plays, PDF (as a blob in a frame), and the first
// 256 KiB of text (shown as text, never as HTML).

import { downloadUrl, errorOf } from './api.js';
import { h, size, say } from './dom.js';

const TEXT_LIMIT = 256 * 1024;
const EXT = {
  image: ['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg', 'avif', 'bmp', 'ico'],
  video: ['mp4', 'webm', 'ogv', 'mov', 'm4v'],
  audio: ['mp3', 'ogg', 'oga', 'wav', 'flac', 'm4a', 'aac', 'opus'],
  pdf: ['pdf'],
  text: ['txt', 'md', 'log', 'csv', 'json', 'xml', 'yaml', 'yml', 'toml', 'ini', 'conf', 'rs', 'js', 'mjs', 'ts', 'py', 'sh', 'c', 'h', 'cpp', 'go', 'java', 'html', 'css', 'sql'],
};

/** What kind of preview a file gets ('image', 'video', 'audio', 'pdf', 'text' or null). */
export function kindOf(e) {
  // the name's extension first (a client's Content-Type is often generic), then the type
  const ext = e.name.includes('.') ? e.name.split('.').pop().toLowerCase() : '';
  for (const [k, list] of Object.entries(EXT)) if (list.includes(ext)) return k;
  const ct = (e.content_type || '').toLowerCase();
  if (ct.startsWith('image/')) return 'image';
  if (ct.startsWith('video/')) return 'video';
  if (ct.startsWith('audio/')) return 'audio';
  if (ct === 'application/pdf') return 'pdf';
  if (ct.startsWith('text/')) return 'text';
  return null;
}

async function body(e, kind) {
  const url = downloadUrl(e.path);
  switch (kind) {
    case 'image':
      return h('img', { src: url, alt: e.name });
    case 'video':
      return h('video', { src: url, controls: true, preload: 'metadata', 'aria-label': e.name });
    case 'audio':
      return h('audio', { src: url, controls: true, preload: 'metadata', 'aria-label': e.name });
    case 'pdf': {
      const res = await fetch(url, { credentials: 'same-origin' });
      if (!res.ok) throw await errorOf(res);
      const blob = new Blob([await res.blob()], { type: 'application/pdf' });
      return h('iframe', { src: URL.createObjectURL(blob), title: e.name, class: 'pdf' });
    }
    case 'text': {
      const res = await fetch(url, { credentials: 'same-origin', headers: { Range: `bytes=0-${TEXT_LIMIT - 1}` } });
      if (!res.ok) throw await errorOf(res);
      const text = await res.text();
      const cut = e.size > TEXT_LIMIT ? h('p', { class: 'note' }, `Showing the first ${size(TEXT_LIMIT)} of ${size(e.size)}.`) : null;
      return h('div', {}, cut, h('pre', { class: 'text' }, text));
    }
    default:
      return h('p', {}, 'No preview for this kind of file.');
  }
}

export async function showPreview(e) {
  const kind = kindOf(e);
  const content = h('div', { class: 'preview-body' }, h('p', {}, 'Loading…'));
  const dlg = h('dialog', { class: 'dialog preview', 'aria-labelledby': 'preview-title' },
    h('div', { class: 'preview-head' },
      h('h2', { id: 'preview-title' }, e.name),
      h('a', { class: 'btn', href: downloadUrl(e.path), download: e.name }, 'Download'),
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')),
    content);
  dlg.addEventListener('close', () => {
    for (const f of dlg.querySelectorAll('iframe')) URL.revokeObjectURL(f.src);
    for (const m of dlg.querySelectorAll('video,audio')) m.pause();
    dlg.remove();
  });
  document.body.append(dlg);
  dlg.showModal();
  try {
    content.replaceChildren(await body(e, kind));
  } catch (err) {
    content.replaceChildren(h('p', { class: 'error' }, err.message));
    say(err.message, 'error');
  }
}
