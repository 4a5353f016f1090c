// The file browser: breadcrumbs, a folder's entries (sorted and paged by the server —
// one page of 200 at a time, so a folder of 100,000 entries costs one page), selection,
// the toolbar, drag-and-drop uploads, name search, share links and folder ZIPs.

import { api, encPath, downloadUrl } from './api.js';
import { h, fill, size, time, say, join } from './dom.js';
import { ask, confirmDo, mkdir, rename, transfer, remove } from './actions.js';
import { uploadFiles, filesFromDrop } from './upload.js';
import { showPreview } from './preview.js';
import { shareDialog } from './shares.js';

const PAGE = 200;
let view = null; // {main, path, sort, order, selected: Set, ...}
let uploadsPanel = null; // kept across reloads, so finished uploads stay visible a moment

/** The ZIP download URL of a folder ('/' is the whole home). */
export function zipUrl(path) {
  return path === '/' ? '/api/v1/zip' : `/api/v1/zip${encPath(path)}`;
}

/** Starts a download of a folder as a ZIP (the browser streams it to disk). */
function downloadZip(path) {
  const name = path === '/' ? 'home' : path.slice(path.lastIndexOf('/') + 1);
  const a = h('a', { href: zipUrl(path), download: `${name}.zip`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  say(`Downloading ${name}.zip`);
}

export function reload() {
  if (!view) return;
  if (view.search !== undefined) return showSearch(view.main, view.search);
  return showFiles(view.main, view.path, new URLSearchParams({ sort: view.sort, order: view.order }));
}

function filesHash(path, sort, order) {
  const q = sort === 'name' && order === 'asc' ? '' : `?sort=${sort}&order=${order}`;
  return `#/files${encPath(path === '/' ? '' : path)}/${q}`.replace('//', '/');
}

function crumbs(path) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('li', {}, parts.length
    ? h('a', { href: '#/files/' }, 'Home')
    : h('span', { 'aria-current': 'page' }, 'Home'))];
  let acc = '';
  parts.forEach((p, i) => {
    acc += '/' + p;
    items.push(h('li', {}, i === parts.length - 1
      ? h('span', { 'aria-current': 'page' }, p)
      : h('a', { href: filesHash(acc, 'name', 'asc') }, p)));
  });
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {}, items));
}

function searchForm(value = '') {
  const input = h('input', { id: 'search-q', type: 'search', name: 'q', value, placeholder: 'Search names', 'aria-label': 'Search file and folder names', minlength: 1 });
  return h('form', { class: 'search', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
  } }, input, h('button', { type: 'submit' }, 'Search'));
}

/** One row of a listing. */
function row(e, opts) {
  const isDir = e.kind === 'folder';
  const check = h('input', { type: 'checkbox', class: 'pick', 'aria-label': `Select ${e.name}`,
    onchange: () => { if (check.checked) view.selected.add(e.path); else view.selected.delete(e.path); updateTools(); } });
  const name = isDir
    ? h('a', { class: 'name folder', href: filesHash(e.path, view.sort, view.order) }, e.name)
    : h('button', { type: 'button', class: 'name file linkish', title: 'Preview', onclick: () => showPreview(e) }, e.name);
  const label = opts.search ? e.path : null;
  const actions = h('td', { class: 'actions' });
  if (isDir) {
    actions.append(
      h('a', { class: 'btn small', href: zipUrl(e.path), download: `${e.name}.zip`, 'aria-label': `Download ${e.name} as zip` }, 'Zip'));
  } else {
    actions.append(
      h('a', { class: 'btn small', href: downloadUrl(e.path), download: e.name, 'aria-label': `Download ${e.name}` }, 'Download'),
      h('a', { class: 'btn small', href: `#/versions${encPath(e.path)}`, 'aria-label': `Versions of ${e.name}` }, 'Versions'));
  }
  actions.append(
    h('button', { type: 'button', class: 'small', 'aria-label': `Share ${e.name}`, onclick: () => shareDialog(e) }, 'Share'),
    h('button', { type: 'button', class: 'small', 'aria-label': `Rename ${e.name}`, onclick: () => rename(e, reload) }, 'Rename'),
    h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${e.name}`, onclick: () => remove([e.path], reload) }, 'Delete'));
  return h('tr', { 'data-path': e.path, 'data-kind': e.kind },
    h('td', { class: 'sel' }, check),
    h('td', { class: 'n' }, name, label ? h('div', { class: 'where' }, label) : null),
    h('td', { class: 'size' }, isDir ? '—' : size(e.size)),
    h('td', { class: 'mtime' }, time(e.mtime)),
    actions);
}

function sortHeader(key, title) {
  const active = view.sort === key;
  const next = active && view.order === 'asc' ? 'desc' : 'asc';
  const arrow = active ? (view.order === 'asc' ? ' ▲' : ' ▼') : '';
  return h('th', { scope: 'col', 'aria-sort': active ? (view.order === 'asc' ? 'ascending' : 'descending') : 'none', class: key },
    view.search === undefined
      ? h('a', { href: filesHash(view.path, key, next), class: 'sort' }, title, arrow)
      : title);
}

function table(search) {
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all shown', onchange: () => {
    for (const c of view.body.querySelectorAll('input.pick')) {
      c.checked = all.checked;
      c.dispatchEvent(new Event('change'));
    }
  } });
  view.body = h('tbody');
  return h('table', { class: 'list entries', 'aria-label': search ? 'Search results' : 'Folder contents' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'sel' }, all),
      sortHeader('name', 'Name'), sortHeader('size', 'Size'), sortHeader('mtime', 'Modified'),
      h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
    view.body);
}

function updateTools() {
  const n = view.selected.size;
  for (const b of view.main.querySelectorAll('[data-needs-selection]')) b.disabled = n === 0;
  const zip = view.main.querySelector('#zip-selection');
  if (zip) zip.disabled = zipTarget() === null;
  if (view.count) view.count.textContent = n ? `${n} selected` : '';
}

/** What "Download as zip" takes: the one selected folder, or the folder shown when
 * nothing is selected; null when the selection holds files or several entries. */
function zipTarget() {
  const sel = [...view.selected];
  if (sel.length === 0) return view.path;
  if (sel.length > 1) return null;
  const row = [...view.body.children].find((r) => r.dataset.path === sel[0]);
  return row && row.dataset.kind === 'folder' ? sel[0] : null;
}

function tools(path, me) {
  const canWrite = me.role !== 'readonly';
  const pick = h('input', { type: 'file', multiple: true, id: 'upload-input', class: 'sr-only', tabindex: -1, 'aria-label': 'Choose files to upload',
    onchange: () => { start([...pick.files].map((f) => ({ file: f, rel: f.name }))); pick.value = ''; } });
  const pickDir = h('input', { type: 'file', multiple: true, webkitdirectory: true, id: 'upload-folder-input', class: 'sr-only', tabindex: -1, 'aria-label': 'Choose a folder to upload',
    onchange: () => { start([...pickDir.files].map((f) => ({ file: f, rel: f.webkitRelativePath || f.name }))); pickDir.value = ''; } });
  const start = (items) => uploadFiles(items, path, view.uploads, reload);
  view.count = h('span', { class: 'count', 'aria-live': 'polite' });
  const sel = () => [...view.selected];
  return h('div', { class: 'tools', role: 'toolbar', 'aria-label': 'Folder actions' },
    canWrite && h('button', { type: 'button', onclick: () => mkdir(path, reload) }, 'New folder'),
    canWrite && h('button', { type: 'button', class: 'primary', onclick: () => pick.click() }, 'Upload files'),
    canWrite && h('button', { type: 'button', onclick: () => pickDir.click() }, 'Upload folder'),
    pick, pickDir,
    h('span', { class: 'sep' }),
    view.count,
    h('button', { type: 'button', id: 'zip-selection', title: 'The selected folder, or this folder when nothing is selected',
      onclick: () => { const t = zipTarget(); if (t) downloadZip(t); } }, 'Download as zip'),
    canWrite && h('button', { type: 'button', 'data-needs-selection': true, disabled: true, onclick: () => transfer(sel(), 'move', reload) }, 'Move'),
    canWrite && h('button', { type: 'button', 'data-needs-selection': true, disabled: true, onclick: () => transfer(sel(), 'copy', reload) }, 'Copy'),
    canWrite && h('button', { type: 'button', class: 'danger', 'data-needs-selection': true, disabled: true, onclick: () => remove(sel(), reload) }, 'Delete'));
}

async function loadPage(path) {
  const data = await api('GET', `/files${encPath(path === '/' ? '' : path)}`, {
    query: { limit: PAGE, sort: view.sort, order: view.order, cursor: view.cursor },
  });
  if (!data.entries) { // a file, not a folder
    showPreview(data);
    return;
  }
  for (const e of data.entries) view.body.append(row(e, {}));
  view.cursor = data.next_cursor || null;
  view.more.hidden = !view.cursor;
  view.empty.hidden = view.body.children.length > 0;
}

export async function showFiles(main, path, q, me = view && view.me) {
  const sort = ['name', 'size', 'mtime'].includes(q.get('sort')) ? q.get('sort') : 'name';
  const order = q.get('order') === 'desc' ? 'desc' : 'asc';
  view = { main, path, sort, order, me, selected: new Set(), cursor: null };
  document.title = `${path === '/' ? 'Files' : path} · Silent-NAS`;
  uploadsPanel ||= h('ul', { class: 'uploads', 'aria-label': 'Uploads' });
  view.uploads = uploadsPanel;
  view.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: async () => {
    view.more.disabled = true;
    try { await loadPage(path); } catch (e) { say(e.message, 'error'); }
    view.more.disabled = false;
  } }, 'Show more');
  view.empty = h('p', { class: 'empty', hidden: true }, 'This folder is empty. Drop files here to upload them.');
  const drop = h('section', { class: 'files', 'aria-label': 'Files' },
    h('div', { class: 'bar' }, crumbs(path), searchForm()),
    tools(path, me), view.uploads, table(false), view.empty, view.more);
  if (me.role !== 'readonly') {
    drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('dropping'); });
    drop.addEventListener('dragleave', (ev) => { if (ev.target === drop) drop.classList.remove('dropping'); });
    drop.addEventListener('drop', async (ev) => {
      ev.preventDefault();
      drop.classList.remove('dropping');
      const items = await filesFromDrop(ev.dataTransfer);
      if (items.length) uploadFiles(items, path, view.uploads, reload);
    });
  }
  fill(main, drop);
  await loadPage(path);
}

export async function showSearch(main, query) {
  view = { main, search: query, sort: 'name', order: 'asc', me: view && view.me, selected: new Set() };
  document.title = `Search: ${query} · Silent-NAS`;
  view.more = h('button', { type: 'button', class: 'more', hidden: true }, 'Show more');
  view.empty = h('p', { class: 'empty', hidden: true }, 'Nothing matches.');
  view.count = h('span', { class: 'count' });
  const t = table(true);
  fill(main, h('section', { class: 'files', 'aria-label': 'Search' },
    h('div', { class: 'bar' }, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {},
      h('li', {}, h('a', { href: '#/files/' }, 'Home')), h('li', {}, h('span', { 'aria-current': 'page' }, 'Search')))), searchForm(query)),
    h('h1', { class: 'title' }, 'Names containing “', query, '”'),
    t, view.empty, view.more));
  let cursor = null;
  const load = async () => {
    const data = await api('GET', '/search', { query: { q: query, limit: PAGE, cursor } });
    for (const e of data.entries) view.body.append(row(e, { search: true }));
    cursor = data.next_cursor || null;
    view.more.hidden = !cursor;
    view.empty.hidden = view.body.children.length > 0;
  };
  view.more.addEventListener('click', () => load().catch((e) => say(e.message, 'error')));
  await load();
}

export { join, ask, confirmDo };
