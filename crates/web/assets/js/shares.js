// Share links: the "Share" dialog of a file or folder (read-only link, or an upload-only
// "file drop" for a folder; optional password, expiry date, download limit) — the link
// is shown once, with a copy button, since the server keeps only its hash — and the
// "Shares" page listing the user's links with "Revoke" (effective at the next request).

import { api, encPath } from './api.js';
import { h, fill, time, say, baseName, parentOf } from './dom.js';
import { confirmDo } from './actions.js';

/** The end of a local calendar day ('2030-05-01'), as Unix seconds. */
function endOfDay(value) {
  const [y, m, d] = value.split('-').map(Number);
  return Math.floor(new Date(y, m - 1, d, 23, 59, 59).getTime() / 1000);
}

/** The link of a new share, shown once with a copy button. */
function linkBox(url) {
  const out = h('input', { readonly: true, value: url, id: 'share-url', 'aria-label': 'Share link', class: 'secret' });
  return h('div', { class: 'once', role: 'alert' },
    h('p', {}, 'The link — shown only now (the server keeps no copy). Copy it and send it.'), out,
    h('button', { type: 'button', onclick: async () => {
      try {
        await navigator.clipboard.writeText(url);
        say('Copied');
      } catch (_) {
        out.select();
        say('Select and copy the text (the browser refused the clipboard).', 'error');
      }
    } }, 'Copy'));
}

/** Opens the Share dialog of an entry ({path, name, kind}). */
export function shareDialog(e) {
  const isDir = e.kind === 'folder';
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const radio = (value, label, hint, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'share-kind', value, checked }), ' ', h('span', {}, label),
    h('span', { class: 'note' }, ` — ${hint}`));
  const password = h('input', { id: 'share-password', type: 'password', autocomplete: 'new-password', maxlength: 1024 });
  const expiry = h('input', { id: 'share-expiry', type: 'date', min: new Date().toISOString().slice(0, 10) });
  const limit = h('input', { id: 'share-limit', type: 'number', min: 1, step: 1, inputmode: 'numeric' });
  const kinds = isDir
    ? h('fieldset', { class: 'kinds' }, h('legend', {}, 'Kind of link'),
      radio('read', 'Read-only link', 'view, download and zip the folder', true),
      radio('drop', 'File drop', 'upload only: recipients add files, never see any', false))
    : null;
  const result = h('div', { class: 'share-result' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create link');
  const form = h('form', { method: 'dialog', onsubmit: async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const kind = isDir ? form.querySelector('input[name="share-kind"]:checked').value : 'read';
    const json = { path: e.path, kind };
    if (password.value) json.password = password.value;
    if (expiry.value) json.expires_at = endOfDay(expiry.value);
    if (limit.value && kind === 'read') json.max_downloads = Number(limit.value);
    create.disabled = true;
    try {
      const made = await api('POST', '/shares', { json });
      fill(result, linkBox(location.origin + made.url));
      form.querySelector('.fields').hidden = true;
      create.hidden = true;
      done.textContent = 'Done';
      result.querySelector('input').select();
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
      create.disabled = false;
    }
  } });
  const done = h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel');
  fill(form,
    h('h2', { id: 'share-title' }, `Share ${e.name}`),
    h('div', { class: 'fields' },
      kinds,
      h('label', { for: 'share-password' }, 'Password (optional)'), password,
      h('label', { for: 'share-expiry' }, 'Expires after (optional)'), expiry,
      h('label', { for: 'share-limit' }, 'Download limit (optional, read-only links)'), limit),
    err, result,
    h('div', { class: 'buttons' }, done, create));
  const dlg = h('dialog', { class: 'dialog share', 'aria-labelledby': 'share-title' }, form);
  if (isDir) {
    form.addEventListener('change', () => {
      const drop = form.querySelector('input[name="share-kind"]:checked').value === 'drop';
      limit.disabled = drop;
      if (drop) limit.value = '';
    });
  }
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

function folderHash(path) {
  const dir = parentOf(path);
  return `#/files${encPath(dir === '/' ? '' : dir)}/`;
}

/** The Shares page: every link of the user, with Revoke. */
export async function showShares(main) {
  document.title = 'Shares · Silent-NAS';
  const list = await api('GET', '/shares');
  const rows = list.map((s) => {
    const what = s.path || '(in the trash, or deleted)';
    return h('tr', { 'data-share': s.id },
      h('td', { class: 'n' }, s.path
        ? h('a', { href: folderHash(s.path), class: `name ${s.target === 'folder' ? 'folder' : 'file'}` }, s.path)
        : h('span', { class: 'note' }, what)),
      h('td', {}, s.kind === 'drop' ? 'File drop' : 'Read-only', s.has_password ? h('span', { class: 'badge' }, 'password') : null),
      h('td', {}, s.expires_at ? time(s.expires_at) : 'never'),
      h('td', { class: 'size' }, s.max_downloads ? `${s.downloads} / ${s.max_downloads}` : String(s.downloads)),
      h('td', { class: 'mtime' }, time(s.created_at)),
      h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small danger',
        'aria-label': `Revoke the link to ${s.path ? baseName(s.path) : s.id}`, onclick: async () => {
          if (!(await confirmDo('Revoke this link?', 'It stops working at once, for everyone who has it.', 'Revoke', true))) return;
          try {
            await api('DELETE', `/shares/${encodeURIComponent(s.id)}`);
            say('Link revoked');
          } catch (x) { say(x.message, 'error'); }
          await showShares(main);
        } }, 'Revoke')));
  });
  fill(main, h('section', { class: 'shares', 'aria-labelledby': 'shares-title' },
    h('h1', { id: 'shares-title' }, 'Share links'),
    h('p', { class: 'note' }, 'Links you made with “Share” in Files. A link itself is shown only when it is made.'),
    rows.length
      ? h('table', { class: 'list', 'aria-labelledby': 'shares-title' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Shared'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Expires'),
          h('th', { scope: 'col', class: 'size' }, 'Downloads / limit'), h('th', { scope: 'col', class: 'mtime' }, 'Created'),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        h('tbody', {}, rows))
      : h('p', { class: 'empty' }, 'No share links yet.')));
}
