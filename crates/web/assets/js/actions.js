// The file operations and the small dialogs they ask with: new folder, rename, move,
// copy, delete (to the trash). Each error is shown in the server's words.

import { api, encPath } from './api.js';
import { h, say, parentOf, join, baseName } from './dom.js';

/** A modal dialog asking for one line of text; resolves to the text or null. */
export function ask(title, label, value = '', okText = 'OK') {
  return new Promise((resolve) => {
    const input = h('input', { id: 'ask-input', value, required: true, autocomplete: 'off' });
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'ask-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'ask-title' }, title),
        h('label', { for: 'ask-input' }, label), input,
        h('div', { class: 'buttons' },
          h('button', { type: 'button', value: 'cancel', onclick: () => dlg.close('cancel') }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: 'primary' }, okText))));
    dlg.addEventListener('close', () => {
      const v = dlg.returnValue === 'ok' ? input.value.trim() : null;
      dlg.remove();
      resolve(v || null);
    });
    document.body.append(dlg);
    dlg.showModal();
    input.select();
  });
}

/** A modal yes/no question; resolves to true when confirmed. */
export function confirmDo(title, text, okText = 'OK', danger = false) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', { id: 'confirm-text' }, text),
        h('div', { class: 'buttons' },
          h('button', { type: 'submit', value: 'cancel' }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, okText))));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

async function attempt(f, done, message) {
  try {
    await f();
    if (message) say(message);
  } catch (e) {
    say(e.message, 'error');
  }
  if (done) await done();
}

export async function mkdir(dir, done) {
  const name = await ask('New folder', 'Folder name', '', 'Create');
  if (!name) return;
  await attempt(() => api('POST', `/mkdir${encPath(join(dir, name))}`), done, `Created ${name}`);
}

export async function rename(e, done) {
  const name = await ask(`Rename ${e.name}`, 'New name', e.name, 'Rename');
  if (!name || name === e.name) return;
  await attempt(() => api('POST', '/move', { json: { from: e.path, to: join(parentOf(e.path), name) } }),
    done, `Renamed to ${name}`);
}

/** Moves or copies entries into a folder the user names. */
export async function transfer(paths, op, done) {
  if (!paths.length) return;
  const what = paths.length === 1 ? baseName(paths[0]) : `${paths.length} items`;
  const dest = await ask(`${op === 'move' ? 'Move' : 'Copy'} ${what}`, 'To folder (e.g. /Photos/2024)',
    parentOf(paths[0]), op === 'move' ? 'Move' : 'Copy');
  if (!dest) return;
  const folder = dest.startsWith('/') ? dest.replace(/\/+$/, '') || '/' : `/${dest.replace(/\/+$/, '')}`;
  await attempt(async () => {
    for (const p of paths) {
      await api('POST', op === 'move' ? '/move' : '/copy', { json: { from: p, to: join(folder, baseName(p)) } });
    }
  }, done, `${op === 'move' ? 'Moved' : 'Copied'} ${what}`);
}

/** Deletes entries (they go to the trash). */
export async function remove(paths, done) {
  if (!paths.length) return;
  const what = paths.length === 1 ? baseName(paths[0]) : `${paths.length} items`;
  if (!(await confirmDo(`Delete ${what}?`, 'Deleted items go to the trash, where you can restore them.', 'Delete', true))) return;
  await attempt(async () => {
    for (const p of paths) await api('DELETE', `/files${encPath(p)}`);
  }, done, `Deleted ${what}`);
}
