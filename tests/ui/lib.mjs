// Shared by the browser flows: Debian's chromium driven by playwright-core (no browser
// download), a signed-in page, REST calls with Basic credentials to set up data, and
// checks that fail the flow with a message. Each flow is `node FLOW.mjs URL USER PASS`
// and exits non-zero on failure (crates/cli/tests/ui.rs runs them against a real server).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const [base, user, pass] = process.argv.slice(2);
if (!base || !user || !pass) {
  console.error('usage: node FLOW.mjs URL USER PASS');
  process.exit(2);
}

export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/** A fresh browser (playwright gives each launch a new temporary profile). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
}

/** A new page in a new context; page errors and JS dialogs are recorded (and fail `finish`). */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
    colorScheme: opts.dark ? 'dark' : 'light',
    acceptDownloads: true,
    isMobile: !!opts.phone,
    hasTouch: !!opts.phone,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => {
    page.problems.push(`a JavaScript dialog fired: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of (40[134]|410)/.test(m.text())) page.problems.push(`console error: ${m.text()}`);
  });
  return page;
}

/** Signs in through the form and waits for the file list. */
export async function signIn(page, u = user, p = pass) {
  await page.goto(base + '/');
  await page.getByLabel('User name').fill(u);
  await page.getByLabel('Password').fill(p);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('table', { name: 'Folder contents' }).waitFor();
}

const basic = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

/** A REST call with Basic credentials (for setting up and checking data). */
export async function rest(method, path, { json, body, headers = {} } = {}) {
  const h = { Authorization: basic, ...headers };
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const res = await fetch(base + '/api/v1' + path, { method, headers: h, body });
  const text = await res.text();
  let data = text;
  if ((res.headers.get('content-type') || '').includes('json')) data = JSON.parse(text);
  return { status: res.status, data, headers: res.headers };
}

/** Puts a file (creating its folder). */
export async function put(path, content) {
  const dir = path.slice(0, path.lastIndexOf('/'));
  if (dir) await rest('POST', `/mkdir${enc(dir)}?parents=true`);
  const r = await rest('PUT', `/upload${enc(path)}`, { body: content });
  check(r.status < 300, `PUT ${path}: ${r.status} ${JSON.stringify(r.data)}`);
}

export function enc(p) {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** Runs a flow: fails with the error and any page problems; closes the browser. */
export async function run(name, flow) {
  const browser = await launch();
  let pages = [];
  try {
    await flow(browser, (p) => { pages.push(p); return p; });
    const problems = pages.flatMap((p) => p.problems);
    check(problems.length === 0, `problems in the page:\n  ${problems.join('\n  ')}`);
    console.log(`ok: ${name}`);
  } catch (e) {
    console.error(`FAILED: ${name}: ${e.stack || e}`);
    for (const p of pages) {
      try {
        console.error(`  page ${p.url()}\n  problems: ${p.problems.join(' | ')}`);
        console.error(`  text: ${(await p.locator('body').innerText()).slice(0, 2000)}`);
      } catch (_) { /* closed */ }
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

/** curl (no cookies, no credentials unless given): {status, body (text)}. */
export function curl(url, args = []) {
  const out = execFileSync('curl', ['-s', '-w', '\n%{http_code}', ...args, url],
    { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

/** Clicks something that starts a download; returns the downloaded bytes and name. */
export async function download(page, click) {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = await dl.path();
  return { bytes: readFileSync(path), name: dl.suggestedFilename(), path };
}

/** The entries of a ZIP file, by Python's zipfile (which checks every CRC): {name: text}. */
export function zipEntries(path) {
  const py = 'import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n'
    + 'print(json.dumps({i.filename: z.read(i).decode("utf-8", "replace") for i in z.infolist()}))';
  return JSON.parse(execFileSync('python3', ['-c', py, path], { encoding: 'utf8' }));
}

/** Opens the Share dialog of a listed entry and creates a link; returns its URL. */
export async function createShare(page, name, { drop = false, password, limit } = {}) {
  await page.getByRole('button', { name: `Share ${name}`, exact: true }).click();
  const dlg = page.getByRole('dialog', { name: `Share ${name}` });
  if (drop) await dlg.getByLabel(/File drop/).check();
  if (password) await dlg.getByLabel('Password (optional)').fill(password);
  if (limit) await dlg.getByLabel(/Download limit/).fill(String(limit));
  await dlg.getByRole('button', { name: 'Create link' }).click();
  const url = await dlg.getByRole('textbox', { name: 'Share link' }).inputValue();
  check(url.startsWith(base + '/s/') && url.length === base.length + 3 + 32, `a share link: ${url}`);
  await dlg.getByRole('button', { name: 'Done' }).click();
  return url;
}
