// The account page (usage against the quota, app passwords, S3 keys — each secret shown
// once, with a copy button) and, for administrators, users, background workers and
// storage statistics.

import { api, endSession } from './api.js';
import { h, fill, size, time, say } from './dom.js';
import { ask, confirmDo } from './actions.js';

function secretBox(label, secret) {
  const out = h('input', { readonly: true, value: secret, 'aria-label': label, class: 'secret' });
  return h('div', { class: 'once', role: 'alert' },
    h('p', {}, `${label} — shown only now. Copy it somewhere safe.`), out,
    h('button', { type: 'button', onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        say('Copied');
      } catch (_) {
        out.select();
        say('Select and copy the text (the browser refused the clipboard).', 'error');
      }
    } }, 'Copy'));
}

function usage(me) {
  const used = me.used_bytes;
  if (me.quota === null || me.quota === undefined) return h('p', {}, `${size(used)} used (no quota).`);
  return h('div', { class: 'usage' },
    h('label', { for: 'quota-meter' }, `${size(used)} of ${size(me.quota)} used`),
    h('meter', { id: 'quota-meter', min: 0, max: me.quota, value: used, high: me.quota * 0.9 }));
}

async function credentials(box, kind) {
  const isApp = kind === 'app';
  const data = isApp ? await api('GET', '/me/app-passwords') : await api('GET', '/me/keys');
  const list = isApp ? data.app_passwords : data.keys.filter((k) => !k.revoked);
  const rows = list.map((c) => h('tr', {},
    h('td', {}, isApp ? c.name : (c.name || '')),
    isApp ? null : h('td', { class: 'mono' }, c.access_key_id),
    h('td', {}, c.read_only ? 'read-only' : 'read & write'),
    h('td', {}, time(c.created)),
    h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small danger',
      'aria-label': `Revoke ${isApp ? c.name : c.access_key_id}`, onclick: async () => {
        if (!(await confirmDo('Revoke it?', 'Programs using it stop working at once.', 'Revoke', true))) return;
        try {
          await api('DELETE', isApp ? `/me/app-passwords/${encodeURIComponent(c.id)}` : `/me/keys/${encodeURIComponent(c.access_key_id)}`);
        } catch (e) { say(e.message, 'error'); }
        await credentials(box, kind);
      } }, 'Revoke'))));
  const secret = h('div');
  const create = h('button', { type: 'button', onclick: async () => {
    const name = await ask(isApp ? 'New app password' : 'New S3 key', 'Name (e.g. the device or program)', '', 'Create');
    if (!name) return;
    try {
      const made = isApp
        ? await api('POST', '/me/app-passwords', { json: { name } })
        : await api('POST', '/me/keys', { json: { name } });
      await credentials(box, kind);
      const s = isApp ? made.password : made.secret_access_key;
      box.querySelector('.secret-slot').replaceChildren(
        isApp ? secretBox('App password', s) : h('div', {}, h('p', {}, `Access key id: ${made.access_key_id}`), secretBox('S3 secret key', s)));
    } catch (e) {
      say(e.message, 'error');
    }
  } }, isApp ? 'New app password' : 'New S3 key');
  fill(box,
    h('h2', { id: `${kind}-title` }, isApp ? 'App passwords' : 'S3 access keys'),
    h('p', { class: 'note' }, isApp
      ? 'For WebDAV clients, sync tools and scripts: your user name with an app password instead of your own.'
      : 'For S3 clients (rclone, aws, s3cmd): buckets are your top-level folders.'),
    h('div', { class: 'secret-slot' }, secret),
    rows.length ? h('table', { class: 'list', 'aria-labelledby': `${kind}-title` },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), isApp ? null : h('th', { scope: 'col' }, 'Key id'),
        h('th', { scope: 'col' }, 'Access'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, rows)) : h('p', { class: 'empty' }, 'None yet.'),
    create);
}

function passwordForm() {
  const field = (id, label, auto) => [h('label', { for: id }, label),
    h('input', { id, type: 'password', required: true, autocomplete: auto, minlength: id === 'pw-current' ? undefined : 8 })];
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'pw-title', onsubmit: async (ev) => {
    ev.preventDefault();
    const [current, next, again] = ['pw-current', 'pw-new', 'pw-again'].map((id) => form.querySelector(`#${id}`).value);
    err.hidden = true;
    if (next !== again) {
      err.textContent = 'The new password and its repetition differ.';
      err.hidden = false;
      return;
    }
    try {
      await api('POST', '/me/password', { json: { current, new: next } });
      endSession('Password changed. Sign in with the new one.');
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  } },
  h('h2', { id: 'pw-title' }, 'Change password'),
  field('pw-current', 'Current password', 'current-password'),
  field('pw-new', 'New password (8 characters or more)', 'new-password'),
  field('pw-again', 'New password again', 'new-password'),
  err, h('button', { type: 'submit' }, 'Change password'));
  return h('section', { class: 'card' }, form);
}

export async function showAccount(main, me0) {
  document.title = 'Account · Silent-NAS';
  const me = await api('GET', '/me');
  const apps = h('section', { class: 'card', 'aria-labelledby': 'app-title' });
  const keys = h('section', { class: 'card', 'aria-labelledby': 'key-title' });
  fill(main, h('div', { class: 'account' },
    h('h1', {}, 'Account'),
    h('section', { class: 'card', 'aria-labelledby': 'me-title' },
      h('h2', { id: 'me-title' }, me.name),
      h('p', {}, `Role: ${me.role}`), usage(me),
      ),
    passwordForm(),
    apps, keys));
  await Promise.all([credentials(apps, 'app'), credentials(keys, 'key')]);
  return me0;
}

async function users(box) {
  const data = await api('GET', '/admin/users');
  const again = () => users(box);
  const patch = async (name, body, message) => {
    try {
      await api('PATCH', `/admin/users/${encodeURIComponent(name)}`, { json: body });
      say(message);
    } catch (e) { say(e.message, 'error'); }
    await again();
  };
  const rows = data.users.map((u) => h('tr', { 'data-user': u.name },
    h('td', {}, u.name), h('td', {}, u.role),
    h('td', {}, u.quota === null ? 'none' : size(u.quota)),
    h('td', {}, u.disabled ? 'disabled' : 'active'),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': `Quota of ${u.name}`, onclick: async () => {
        const q = await ask(`Quota of ${u.name}`, 'Bytes, with a unit (e.g. 50G, 500M) or "none"', u.quota === null ? 'none' : String(u.quota), 'Set');
        if (q === null) return;
        const quota = parseSize(q);
        if (quota === undefined) { say('Write a size such as 50G, 500M, 1048576 or none.', 'error'); return; }
        await patch(u.name, { quota }, `Quota of ${u.name} set`);
      } }, 'Quota'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Role of ${u.name}`, onclick: async () => {
        const r = await ask(`Role of ${u.name}`, 'admin, user or readonly', u.role, 'Set');
        if (r) await patch(u.name, { role: r.toLowerCase() }, `${u.name} is now ${r.toLowerCase()}`);
      } }, 'Role'),
      h('button', { type: 'button', class: 'small', 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.name}`,
        onclick: () => patch(u.name, { disabled: !u.disabled }, `${u.name} ${u.disabled ? 'enabled' : 'disabled'}`) }, u.disabled ? 'Enable' : 'Disable'),
      h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${u.name}`, onclick: async () => {
        if (!(await confirmDo(`Remove ${u.name}?`, 'The account, its app passwords and its sessions go; its files stay in the store.', 'Remove', true))) return;
        try {
          await api('DELETE', `/admin/users/${encodeURIComponent(u.name)}`);
          say(`Removed ${u.name}`);
        } catch (e) { say(e.message, 'error'); }
        await again();
      } }, 'Remove'))));
  const name = h('input', { id: 'new-user', required: true, autocomplete: 'off' });
  const pw = h('input', { id: 'new-pw', type: 'password', required: true, autocomplete: 'new-password' });
  const role = h('select', { id: 'new-role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'readonly' }, 'readonly'), h('option', { value: 'admin' }, 'admin'));
  const form = h('form', { class: 'inline', 'aria-label': 'Create a user', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/admin/users', { json: { name: name.value, password: pw.value, role: role.value } });
      say(`Created ${name.value}`);
      await again();
    } catch (e) { say(e.message, 'error'); }
  } }, h('label', { for: 'new-user' }, 'Name'), name, h('label', { for: 'new-pw' }, 'Password'), pw,
  h('label', { for: 'new-role' }, 'Role'), role, h('button', { type: 'submit', class: 'primary' }, 'Create user'));
  fill(box, h('h2', { id: 'users-title' }, 'Users'),
    h('table', { class: 'list', 'aria-labelledby': 'users-title' },
      h('thead', {}, h('tr', {}, ...['Name', 'Role', 'Quota', 'State'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, rows)), form);
}

/** "50G" -> bytes, "none" -> null, nonsense -> undefined. */
export function parseSize(text) {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === '') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/.exec(t);
  if (!m) return undefined;
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2]];
  return Math.round(Number(m[1]) * mult);
}

async function workers(box) {
  const data = await api('GET', '/admin/workers');
  fill(box, h('h2', { id: 'workers-title' }, 'Background workers'),
    h('table', { class: 'list', 'aria-labelledby': 'workers-title' },
      h('thead', {}, h('tr', {}, ...['Worker', 'State', 'Last run', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, data.workers.map((w) => h('tr', {},
        h('td', {}, w.name), h('td', {}, w.running ? 'running' : 'idle'),
        h('td', {}, time(w.last_end)),
        h('td', {}, w.last_error ? `failed: ${w.last_error}` : (w.last_outcome ? w.last_outcome.summary : '')),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small', disabled: w.running, 'aria-label': `Run now: ${w.name}`, onclick: async () => {
          try {
            await api('POST', `/admin/workers/${encodeURIComponent(w.name)}/run`);
            say(`Started ${w.name}`);
          } catch (e) { say(e.message, 'error'); }
          await workers(box);
        } }, 'Run now')))))));
}

async function stats(box) {
  const s = await api('GET', '/admin/stats');
  const item = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  fill(box, h('h2', {}, 'Storage'), h('dl', { class: 'stats' },
    item('Files', String(s.files)), item('Folders', String(s.dirs)), item('Versions', String(s.versions)),
    item('Logical size (all versions)', size(s.logical_bytes)), item('Current files', size(s.current_bytes)),
    item('Stored on disk', size(s.stored_bytes)), item('Deduplication', `${(s.dedup_ratio || 1).toFixed(2)}×`),
    item('Compression', `${(s.compression_ratio || 1).toFixed(2)}×`), item('In the trash', String(s.trash_entries))));
}

export async function showAdmin(main, me) {
  document.title = 'Admin · Silent-NAS';
  if (me.role !== 'admin') {
    fill(main, h('p', { class: 'error' }, 'Administrators only.'));
    return;
  }
  const u = h('section', { class: 'card' });
  const w = h('section', { class: 'card' });
  const s = h('section', { class: 'card' });
  fill(main, h('div', { class: 'admin' }, h('h1', {}, 'Administration'), u, s, w));
  const results = await Promise.allSettled([users(u), stats(s), workers(w)]);
  for (const r of results) if (r.status === 'rejected') say(r.reason.message, 'error');
}
