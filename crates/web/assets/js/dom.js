// Building the page: elements are made with h(), and every name, path or message goes in
// as text (a text node or textContent), never as HTML — a file called
// `<img src=x onerror=alert(1)>.txt` is shown as those characters.

/** h('button', {class: 'x', onclick: f, 'aria-label': 'Delete'}, 'text', child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value' || k === 'checked' || k === 'indeterminate') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB" */
export function size(n) {
  if (n === null || n === undefined) return '';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** Unix seconds -> local date and time. */
export function time(secs) {
  if (!secs && secs !== 0) return '';
  return new Date(secs * 1000).toLocaleString();
}

/** Announces a message to screen readers and shows it briefly. */
export function say(text, kind = 'info') {
  const s = document.getElementById('status');
  if (!s) return;
  s.className = `toast ${kind}`;
  s.textContent = text;
  s.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { s.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

/** The last segment of a path. */
export function baseName(p) {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/** The parent folder of a path ('/' for a top-level entry). */
export function parentOf(p) {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Joins a folder and a name. */
export function join(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
