// A "file drop" made in the UI: the recipient's page is a plain multipart form (no
// script); files sent through it land in the owner's folder (a name in use gets
// "name (2)", never an overwrite); the recipient can neither list nor read anything there
// (403, the same page whatever the path); curl -T and curl -F (the form) drop too.
import { run, newPage, signIn, check, put, rest, curl, createShare, base } from './lib.mjs';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

await run('share links: file drop', async (browser, track) => {
  await put('/inbox/secret.txt', "the owner's secret");
  const owner = track(await newPage(browser));
  await signIn(owner);
  await owner.getByRole('button', { name: 'Share inbox', exact: true }).click();
  const dlg = owner.getByRole('dialog', { name: 'Share inbox' });
  await dlg.getByLabel(/File drop/).check();
  check(await dlg.getByLabel(/Download limit/).isDisabled(), 'a drop has no download limit');
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  const url = await createShare(owner, 'inbox', { drop: true });

  const anon = track(await newPage(browser));
  const page = await anon.goto(url);
  check(page.status() === 200, `the drop page: ${page.status()}`);
  await anon.getByRole('heading', { name: 'Send files' }).waitFor();
  check(!(await anon.locator('body').innerText()).includes('secret'), 'nothing of the folder is shown');
  check(await anon.locator('script').count() === 0, 'no script');
  await anon.getByLabel('Files').setInputFiles([
    { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from a stranger') },
    { name: 'secret.txt', mimeType: 'text/plain', buffer: Buffer.from('not the owner\'s') },
    { name: 'photo.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300_000, 7) },
  ]);
  const [sent] = await Promise.all([
    anon.waitForResponse((r) => r.request().method() === 'POST'),
    anon.getByRole('button', { name: 'Send' }).click(),
  ]);
  check(sent.status() === 201, `the form upload: ${sent.status()}`);
  await anon.getByRole('heading', { name: 'Sent' }).waitFor();
  const said = await anon.getByRole('status').innerText();
  check(said.includes('3 files'), `says how many: ${said}`);
  check(!said.includes('secret (2)'), 'not under which names');

  // the owner has them; the name in use was not overwritten
  const read = async (p) => (await rest('GET', `/download${p}`)).data;
  check(await read('/inbox/hello.txt') === 'hello from a stranger', 'the first file');
  check(await read('/inbox/secret.txt') === "the owner's secret", 'the owner\'s file is untouched');
  check(await read('/inbox/secret%20(2).txt') === 'not the owner\'s', 'the second got a free name');
  const stat = await rest('GET', '/stat/inbox/photo.bin');
  check(stat.data.size === 300_000, `the binary file whole: ${JSON.stringify(stat.data)}`);

  // the recipient can neither list nor read: the same 403 page whatever the path
  const bodies = [];
  for (const p of ['/secret.txt', '/no-such.txt', '/?download=1', '/?format=json']) {
    const r = await anon.goto(url + p);
    check(r.status() === 403, `${p}: ${r.status()}`);
    const text = await anon.locator('main').innerText();
    check(!text.includes('owner\'s secret'), `${p} reads nothing`);
    bodies.push(text);
  }
  check(bodies.every((b) => b === bodies[0]), 'the same answer for a name that exists and one that does not');
  for (const p of ['/', '/secret.txt', '/?format=json', '/?download=1']) {
    const r = curl(url + p);
    check(r.status === 403 && !r.body.includes('owner\'s secret'), `curl ${p}: ${r.status}`);
  }

  // curl -T drops a file too
  const dir = mkdtempSync(join(tmpdir(), 'drop-'));
  writeFileSync(join(dir, 'note.txt'), 'by curl');
  const put2 = curl(url + '/', ['-T', join(dir, 'note.txt')]);
  check(put2.status === 201, `curl -T: ${put2.status} ${put2.body}`);
  check(await read('/inbox/note.txt') === 'by curl', 'stored');
  // and the page's form, from curl (multipart/form-data, two files, a plain field)
  writeFileSync(join(dir, 'b.txt'), 'form b');
  const form = curl(url + '/', ['-H', 'Accept: application/json', '-F', 'note=hi', '-F', `file=@${join(dir, 'note.txt')}`,
    '-F', `file=@${join(dir, 'b.txt')}`]);
  check(form.status === 201 && JSON.parse(form.body).files === 2, `curl -F: ${form.status} ${form.body}`);
  check(await read('/inbox/note%20(2).txt') === 'by curl' && await read('/inbox/b.txt') === 'form b', 'both stored');
  const none = curl(url + '/', ['-F', 'note=only a field']);
  check(none.status === 400, `a form without a file: ${none.status}`);

  // a drop behind a password: the password page, then the drop page, then the form
  const locked = base + (await rest('POST', '/shares', { json: { path: '/inbox', kind: 'drop', password: 'letmein' } })).data.url;
  const first = await anon.goto(locked);
  check(first.status() === 401, `asks for the password: ${first.status()}`);
  await anon.getByLabel('Password').fill('letmein');
  await anon.getByRole('button', { name: 'Open' }).click();
  await anon.getByRole('heading', { name: 'Send files' }).waitFor();
  await anon.getByLabel('Files').setInputFiles([{ name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('behind a password') }]);
  await anon.getByRole('button', { name: 'Send' }).click();
  await anon.getByRole('heading', { name: 'Sent' }).waitFor();
  check(await read('/inbox/late.txt') === 'behind a password', 'stored through the password');
  check(curl(locked + '/', ['-F', `file=@${join(dir, 'b.txt')}`]).status === 401, 'the form without the password: 401');
});
