// Upload: files picked in the browser go up with per-file progress (tus), land with the
// right bytes, and an upload whose connection drops mid-way resumes from the server's
// offset instead of starting again.
import { run, newPage, signIn, check, rest } from './lib.mjs';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 1024 * 1024;

function data(len, seed) {
  const b = Buffer.alloc(len);
  let x = seed;
  for (let i = 0; i < len; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(x, Math.min(i, len - 4));
  }
  return b;
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

await run('upload with progress, resumed after a dropped connection', async (browser, track) => {
  await rest('POST', '/mkdir/Up');
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('link', { name: 'Up', exact: true }).click();
  await page.locator('p.empty').waitFor();

  const small = data(1000, 1);
  const big = data(40 * MiB + 123, 2); // one PATCH of everything
  const empty = Buffer.alloc(0);

  // The big file's PATCH is cut off after 13 MiB arrived: the test stores those 13 MiB
  // itself (what a server keeps of a body that broke off), then resets the browser's
  // connection. The upload must ask the server (HEAD) and go on from 13 MiB.
  const ARRIVED = 13 * MiB;
  let cut = false;
  const offsets = [];
  await page.route('**/api/v1/tus/*', async (route) => {
    const r = route.request();
    if (r.method() === 'PATCH') {
      const offset = Number(r.headers()['upload-offset']);
      offsets.push(offset);
      const cookies = await page.context().cookies();
      const auth = {
        'Tus-Resumable': '1.0.0',
        'X-CSRF-Token': r.headers()['x-csrf-token'],
        Cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; '),
      };
      const length = (await fetch(r.url(), { method: 'HEAD', headers: auth })).headers.get('upload-length');
      if (offset === 0 && !cut && length === String(big.length)) {
        cut = true;
        const res = await fetch(r.url(), {
          method: 'PATCH',
          headers: { ...auth, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
          body: big.subarray(0, ARRIVED),
        });
        check(res.status === 204 && res.headers.get('upload-offset') === String(ARRIVED),
          `the first 13 MiB were stored (${res.status} ${res.headers.get('upload-offset')})`);
        return route.abort('connectionreset');
      }
    }
    return route.continue();
  });

  // files on disk, picked by path: handing 40 MiB buffers through the driver protocol took
  // longer than the action timeout on a loaded machine
  const dir = mkdtempSync(join(tmpdir(), 'nas-ui-upload-'));
  const files = [['small.bin', small], ['big file.bin', big], ['empty.txt', empty]].map(([n, b]) => {
    writeFileSync(join(dir, n), b);
    return join(dir, n);
  });
  // (read by the browser while it uploads: removed when this process ends)
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  await page.locator('#upload-input').setInputFiles(files, { timeout: 60000 });
  for (const name of ['small.bin', 'big file.bin', 'empty.txt']) {
    const li = page.locator(`li.upload[data-name="${name}"]`);
    await li.locator('.state', { hasText: 'Done' }).waitFor({ timeout: 60000 });
    check(await li.locator('.pct').innerText() === '100%', `${name} shows 100%`);
    const bar = li.getByRole('progressbar', { name: `Upload progress of ${name}` });
    check(await bar.getAttribute('max') !== null, `${name} has a progress bar`);
  }
  await page.unroute('**/api/v1/tus/*');
  check(cut, 'the big PATCH was cut');
  check(offsets.filter((o) => o === ARRIVED).length === 1,
    `the upload went on from the server's offset (13 MiB): ${offsets}`);
  check(offsets.filter((o) => o === 0).length === 2, `nothing restarted from 0 (small + big): ${offsets}`);
  page.problems = page.problems.filter((p) => !/ERR_CONNECTION_RESET|net::/.test(p));

  for (const [name, want] of [['small.bin', small], ['big%20file.bin', big], ['empty.txt', empty]]) {
    const res = await fetch(`${process.argv[2]}/api/v1/download/Up/${name}`, {
      headers: { Authorization: 'Basic ' + Buffer.from(`${process.argv[3]}:${process.argv[4]}`).toString('base64') },
    });
    const got = Buffer.from(await res.arrayBuffer());
    check(res.status === 200 && got.length === want.length && sha(got) === sha(want), `${name}: the server holds the same bytes (${got.length} of ${want.length})`);
  }
  // the list shows them
  await page.getByRole('button', { name: 'big file.bin', exact: true }).waitFor();
});
