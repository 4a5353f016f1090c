// The REST API at /api/v1, signed in by the session cookie: every call that changes
// something sends the session's CSRF token (the nas_csrf cookie) in X-CSRF-Token. A REST
// error becomes an ApiError whose message is the server's own words.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const WORDS = {
  400: 'The request was not accepted.',
  401: 'You are signed out. Sign in again.',
  403: 'You are not allowed to do that.',
  404: 'It is not there (any more).',
  409: 'Something with that name is already there.',
  413: 'That is too large.',
  429: 'Too many attempts. Wait a moment and try again.',
  500: 'The server failed. Try again later.',
  507: 'Your storage quota is full.',
};

/** The session's CSRF token, from its cookie. */
export function csrf() {
  for (const part of document.cookie.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === 'nas_csrf') return v || '';
  }
  return '';
}

/** A home path as a URL path: each segment percent-encoded ('/a b/c' -> '/a%20b/c'). */
export function encPath(p) {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** The download URL of a file (optionally a version). */
export function downloadUrl(path, version) {
  const v = version ? `?version=${encodeURIComponent(version)}` : '';
  return `/api/v1/download${encPath(path)}${v}`;
}

let onSignedOut = () => {};
/** Called when a request finds the session gone (401). */
export function whenSignedOut(f) {
  onSignedOut = f;
}

/** Ends the page's signed-in state (after a password change, say), with a message. */
export function endSession(message) {
  onSignedOut(new ApiError(401, 'signed_out', message));
}

/** Turns a failed response into an ApiError with the server's message. */
export async function errorOf(res) {
  let code = 'http_' + res.status;
  let message = WORDS[res.status] || `The server answered ${res.status}.`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) {
    // not JSON: keep the words for the status
  }
  return new ApiError(res.status, code, message);
}

/**
 * Calls the API: api('GET', '/files/a', {query: {limit: 100}}),
 * api('POST', '/move', {json: {from, to}}). Returns the JSON body (null for 204).
 */
export async function api(method, path, { json, query, headers = {}, body, signal } = {}) {
  let url = `/api/v1${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const h = { ...headers };
  if (method !== 'GET' && method !== 'HEAD') h['X-CSRF-Token'] = csrf();
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(url, { method, headers: h, body, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && path !== '/auth/session') onSignedOut(err);
    throw err;
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/** Signs in (sets the session cookies). */
export function signIn(username, password) {
  return api('POST', '/auth/session', { json: { username, password } });
}

/** Signs out (ends the session, clears the cookies). */
export function signOut() {
  return api('DELETE', '/auth/session');
}
