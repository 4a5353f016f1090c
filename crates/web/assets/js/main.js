// The page's entry point: who is signed in, and which view the address (#/files/a/b,
// #/search?q=, #/versions/a/b, #/shares, #/trash, #/account, #/admin) shows.

import { api, signOut, whenSignedOut } from './api.js';
import { fill, say } from './dom.js';
import { showSignIn } from './signin.js';
import { showFiles, showSearch } from './files.js';
import { showVersions, showTrash } from './history.js';
import { showAccount, showAdmin } from './account.js';
import { showShares } from './shares.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let me = null;

function decodePath(rest) {
  const p = '/' + rest.split('/').filter(Boolean).map(decodeURIComponent).join('/');
  return p;
}

async function route() {
  if (!me) {
    try {
      me = await api('GET', '/me');
    } catch (_) {
      me = null;
    }
  }
  if (!me) {
    top.hidden = true;
    showSignIn(main, async () => {
      me = null;
      await route();
    });
    return;
  }
  top.hidden = false;
  document.getElementById('who').textContent = me.name;
  document.getElementById('nav-admin').hidden = me.role !== 'admin';
  const hash = location.hash.replace(/^#/, '') || '/files/';
  const [pathPart, queryPart] = hash.split('?');
  const q = new URLSearchParams(queryPart || '');
  const section = pathPart.split('/')[1] || 'files';
  for (const a of top.querySelectorAll('nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    if (pathPart.startsWith('/files')) {
      await showFiles(main, decodePath(pathPart.slice('/files'.length)), q, me);
    } else if (pathPart.startsWith('/search')) {
      await showSearch(main, q.get('q') || '');
    } else if (pathPart.startsWith('/versions')) {
      await showVersions(main, decodePath(pathPart.slice('/versions'.length)));
    } else if (pathPart === '/shares') {
      await showShares(main);
    } else if (pathPart === '/trash') {
      await showTrash(main);
    } else if (pathPart === '/account') {
      await showAccount(main, me);
    } else if (pathPart === '/admin') {
      await showAdmin(main, me);
    } else {
      location.hash = '#/files/';
    }
  } catch (e) {
    fill(main, document.createTextNode(''));
    say(e.message, 'error');
  }
}

whenSignedOut((err) => {
  if (me) {
    me = null;
    say(err && err.code === 'signed_out' ? err.message : 'Your session has ended. Sign in again.', 'error');
    route();
  }
});

document.getElementById('sign-out').addEventListener('click', async () => {
  try {
    await signOut();
  } catch (e) {
    say(e.message, 'error');
  }
  me = null;
  location.hash = '#/files/';
  route();
});

window.addEventListener('hashchange', route);
route();
