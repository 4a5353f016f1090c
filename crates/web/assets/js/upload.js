// Uploads, with the REST door's tus endpoint (/api/v1/tus): each file is created as an
// upload, then sent in one PATCH of everything left (as tus-js-client does by default).
// The server keeps whatever part of a PATCH arrived, so when the connection drops the
// upload asks the server where it stands (HEAD) and goes on from there. One PATCH is
// also the fast way: a file that arrives in one piece is stored as it is, while pieces
// must be read again to hash the whole file. Progress is shown per file.

import { csrf, errorOf, ApiError, encPath, api } from './api.js';
import { h, say, size, join } from './dom.js';

const RETRIES = 8;

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function tusHeaders(extra = {}) {
  return { 'Tus-Resumable': '1.0.0', 'X-CSRF-Token': csrf(), ...extra };
}

async function create(file, target) {
  const meta = [`path ${b64(target)}`];
  if (file.type) meta.push(`filetype ${b64(file.type)}`);
  const res = await fetch('/api/v1/tus', {
    method: 'POST',
    credentials: 'same-origin',
    headers: tusHeaders({ 'Upload-Length': String(file.size), 'Upload-Metadata': meta.join(',') }),
  });
  if (res.status !== 201) throw await errorOf(res);
  return res.headers.get('location');
}

async function offsetOf(url) {
  const res = await fetch(url, { method: 'HEAD', credentials: 'same-origin', headers: tusHeaders() });
  if (!res.ok) throw new ApiError(res.status, 'tus', res.status === 404
    ? 'The upload expired or was removed on the server. Upload the file again.'
    : `The server answered ${res.status} about the upload.`);
  return Number(res.headers.get('upload-offset'));
}

/** One PATCH with progress events; resolves to the new offset. */
function patch(url, blob, offset, onProgress, item) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    item.xhr = x;
    x.open('PATCH', url);
    x.withCredentials = true;
    for (const [k, v] of Object.entries(tusHeaders({ 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }))) {
      x.setRequestHeader(k, v);
    }
    x.upload.onprogress = (ev) => onProgress(offset + ev.loaded);
    x.onload = () => {
      if (x.status === 204) {
        resolve(Number(x.getResponseHeader('upload-offset')));
      } else {
        let message = `The server answered ${x.status}.`;
        try { message = JSON.parse(x.responseText).error.message; } catch (_) { /* keep */ }
        const e = new ApiError(x.status, 'tus', message);
        e.final = x.status !== 409 && x.status < 500;
        reject(e);
      }
    };
    x.onerror = () => reject(new ApiError(0, 'network', 'The connection dropped.'));
    x.onabort = () => { const e = new ApiError(0, 'aborted', 'Cancelled.'); e.final = true; reject(e); };
    x.send(blob);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Sends one file to `target`, resuming after dropped connections. */
async function send(item) {
  const { file, target } = item;
  const url = await create(file, target);
  item.url = url;
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    try {
      offset = await patch(url, file.slice(offset), offset, item.progress, item);
      item.progress(offset);
      failures = 0;
    } catch (e) {
      if (e.final || ++failures > RETRIES) throw e;
      item.state(`Connection lost — resuming (attempt ${failures})…`);
      await sleep(Math.min(500 * 2 ** (failures - 1), 8000));
      offset = await offsetOf(url);
      item.resumed = (item.resumed || 0) + 1;
      item.state('Uploading…');
    }
  }
  item.progress(file.size);
}

/** Uploads `items` ({file, rel: path relative to dir}) into the folder `dir`. */
export async function uploadFiles(items, dir, panel, done) {
  const folders = new Set();
  for (const it of items) {
    const parts = it.rel.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'));
  }
  try {
    for (const f of [...folders].sort()) await api('POST', `/mkdir${encPath(join(dir, f))}`, { query: { parents: 'true' } });
  } catch (e) {
    say(e.message, 'error');
    return;
  }
  const rows = items.map(({ file, rel }) => {
    const bar = h('progress', { max: file.size || 1, value: 0, 'aria-label': `Upload progress of ${rel}` });
    const pct = h('span', { class: 'pct' }, '0%');
    const state = h('span', { class: 'state' }, 'Waiting…');
    const li = h('li', { class: 'upload', 'data-name': rel }, h('span', { class: 'fname' }, rel), ' ', h('span', { class: 'fsize' }, size(file.size)), bar, pct, state);
    panel.append(li);
    return {
      file, li, target: join(dir, rel),
      progress: (n) => {
        bar.value = file.size ? n : 1;
        pct.textContent = `${file.size ? Math.floor((100 * n) / file.size) : 100}%`;
      },
      state: (t) => { state.textContent = t; },
    };
  });
  let ok = 0;
  for (const item of rows) {
    item.state('Uploading…');
    try {
      await send(item);
      item.state('Done');
      item.li.classList.add('done');
      ok++;
    } catch (e) {
      item.state(e.message);
      item.li.classList.add('failed');
    }
  }
  say(ok === rows.length ? `Uploaded ${ok} file${ok === 1 ? '' : 's'}` : `${rows.length - ok} of ${rows.length} uploads failed`, ok === rows.length ? 'info' : 'error');
  setTimeout(() => { for (const r of rows) if (r.li.classList.contains('done')) r.li.remove(); }, 5000);
  if (done) await done();
}

/** The files of a drop, walking dropped folders: [{file, rel}]. */
export async function filesFromDrop(dt) {
  const entries = [...(dt.items || [])].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...dt.files].map((f) => ({ file: f, rel: f.name }));
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, rel: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}
