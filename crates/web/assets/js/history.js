// History: a file's versions (download any, restore any as the newest) and the trash
// (restore to the old place or another, delete forever, empty).

import { api, encPath, downloadUrl } from './api.js';
import { h, fill, size, time, say, baseName, parentOf } from './dom.js';
import { ask, confirmDo } from './actions.js';

function folderLink(path) {
  const dir = parentOf(path);
  return `#/files${encPath(dir === '/' ? '' : dir)}/`;
}

export async function showVersions(main, path) {
  const name = baseName(path);
  document.title = `Versions of ${name} · Silent-NAS`;
  const data = await api('GET', `/versions${encPath(path)}`);
  const current = data.versions.length ? data.versions[data.versions.length - 1].version : null;
  const rows = [...data.versions].reverse().map((v) => h('tr', { 'data-version': v.version },
    h('td', {}, `#${v.version}`, v.version === current ? h('span', { class: 'badge' }, 'current') : null),
    h('td', { class: 'size' }, size(v.size)),
    h('td', {}, time(v.created)),
    v.author && v.author.startsWith('share:')
      ? h('td', { class: 'author', title: `Uploaded through file-drop link ${v.author.slice(6)}` }, 'a file-drop link')
      : h('td', { class: 'author' }, v.author || '—'),
    h('td', { class: 'actions' },
      h('a', { class: 'btn small', href: downloadUrl(path, v.version), download: name, 'aria-label': `Download version ${v.version}` }, 'Download'),
      v.version !== current && h('button', { type: 'button', class: 'small', 'aria-label': `Restore version ${v.version}`, onclick: async () => {
        if (!(await confirmDo(`Restore version ${v.version}?`, `It becomes the newest version of ${name}; the others are kept.`, 'Restore'))) return;
        try {
          await api('POST', `/versions${encPath(path)}/restore`, { json: { version: v.version } });
          say(`Restored version ${v.version} of ${name}`);
        } catch (e) {
          say(e.message, 'error');
        }
        await showVersions(main, path);
      } }, 'Restore'))));
  fill(main, h('section', { class: 'history', 'aria-labelledby': 'versions-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {},
      h('li', {}, h('a', { href: folderLink(path) }, parentOf(path) === '/' ? 'Home' : parentOf(path))),
      h('li', {}, h('span', { 'aria-current': 'page' }, name)))),
    h('h1', { id: 'versions-title' }, 'Versions of ', h('span', { class: 'fname' }, name)),
    h('table', { class: 'list', 'aria-labelledby': 'versions-title' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col', class: 'size' }, 'Size'),
        h('th', { scope: 'col' }, 'Saved'), h('th', { scope: 'col' }, 'By'), h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, rows))));
}

export async function showTrash(main) {
  document.title = 'Trash · Silent-NAS';
  const data = await api('GET', '/trash');
  const again = () => showTrash(main);
  const act = async (f, message) => {
    try {
      await f();
      say(message);
    } catch (e) {
      say(e.message, 'error');
    }
    await again();
  };
  const rows = data.entries.map((t) => h('tr', { 'data-id': t.id, 'data-path': t.path },
    h('td', {}, h('span', { class: `name ${t.kind}` }, t.path)),
    h('td', {}, t.kind),
    h('td', {}, time(t.deleted)),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': `Restore ${t.path}`,
        onclick: () => act(() => api('POST', '/trash/restore', { json: { ids: [t.id] } }), `Restored ${t.path}`) }, 'Restore'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Restore elsewhere: ${t.path}`, onclick: async () => {
        const to = await ask(`Restore ${baseName(t.path)} to…`, 'New path (its folder must exist)', t.path, 'Restore');
        if (to) await act(() => api('POST', '/trash/restore', { json: { ids: [t.id], to } }), `Restored to ${to}`);
      } }, 'Restore elsewhere'),
      h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete forever: ${t.path}`, onclick: async () => {
        if (await confirmDo(`Delete ${baseName(t.path)} forever?`, 'This cannot be undone.', 'Delete forever', true)) {
          await act(() => api('DELETE', `/trash/${t.id}`), `Deleted ${t.path} forever`);
        }
      } }, 'Delete forever'))));
  const empty = h('button', { type: 'button', class: 'danger', disabled: !rows.length, onclick: async () => {
    if (await confirmDo('Empty the trash?', `All ${rows.length} items are deleted forever. This cannot be undone.`, 'Empty trash', true)) {
      await act(() => api('DELETE', '/trash'), 'The trash is empty');
    }
  } }, 'Empty trash');
  fill(main, h('section', { class: 'trash', 'aria-labelledby': 'trash-title' },
    h('div', { class: 'bar' }, h('h1', { id: 'trash-title' }, 'Trash'), empty),
    rows.length
      ? h('table', { class: 'list', 'aria-labelledby': 'trash-title' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Was at'), h('th', { scope: 'col' }, 'Kind'),
          h('th', { scope: 'col' }, 'Deleted'), h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
        h('tbody', {}, rows))
      : h('p', { class: 'empty' }, 'The trash is empty.')));
}
