// The sign-in form. The server's answer (wrong password, too many attempts with how long
// to wait) is shown in its own words.

import { signIn } from './api.js';
import { h, fill } from './dom.js';

export function showSignIn(main, done) {
  document.title = 'Sign in · Silent-NAS';
  const err = h('p', { class: 'error', id: 'signin-error', role: 'alert', hidden: true });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      button.disabled = true;
      try {
        await signIn(user.value, pass.value);
        pass.value = '';
        await done();
      } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
        pass.select();
      } finally {
        button.disabled = false;
      }
    } },
    h('h1', { id: 'signin-title' }, 'Silent-NAS'),
    h('label', { for: 'username' }, 'User name'), user,
    h('label', { for: 'password' }, 'Password'), pass,
    err, button);
  fill(main, form);
  user.focus();
}
