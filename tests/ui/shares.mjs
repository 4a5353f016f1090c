// Read-only share links, made in the UI and used by someone without an account: a file's
// link (its page: name, size, a download button; and the same link with curl), a
// folder's (a listing with escaped names, sub-folders, "download all as zip"), the owner's
// "Shares" page and "Revoke" (the link answers 404 at once). The
// share pages run no script and never receive the owner's session cookie.
import { run, newPage, signIn, check, put, base, curl, download, zipEntries, createShare } from './lib.mjs';

const XSS = '<img src=x onerror=alert(1)>.txt';

await run('share links: read-only file and folder, anonymous, curl, revoke', async (browser, track) => {
  await put('/docs/report.txt', 'the report');
  await put('/photos/a.txt', 'alpha');
  await put(`/photos/${XSS}`, 'xss');
  await put('/photos/sub/b.txt', 'beta');
  const owner = track(await newPage(browser));
  await owner.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await signIn(owner);

  // a file: the dialog shows the link once, with a copy button
  await owner.goto(base + '/#/files/docs/');
  await owner.getByRole('button', { name: 'Share report.txt', exact: true }).click();
  const dlg = owner.getByRole('dialog', { name: 'Share report.txt' });
  check(await dlg.getByLabel(/File drop/).count() === 0, 'a file has no file-drop choice');
  await dlg.getByRole('button', { name: 'Create link' }).click();
  const fileUrl = await dlg.getByRole('textbox', { name: 'Share link' }).inputValue();
  await dlg.getByRole('button', { name: 'Copy' }).click();
  check(await owner.evaluate(() => navigator.clipboard.readText()) === fileUrl, 'the copy button copies the link');
  await dlg.getByRole('button', { name: 'Done' }).click();
  check(fileUrl.startsWith(base + '/s/'), `a link: ${fileUrl}`);

  // someone else, with no account and no cookies: the file's page, then its download
  const anon = track(await newPage(browser));
  check((await anon.context().cookies()).length === 0, 'the second context has no cookies');
  const res = await anon.goto(fileUrl);
  check(res.status() === 200, `the file page: ${res.status()}`);
  await anon.getByRole('heading', { name: 'report.txt' }).waitFor();
  check((await anon.locator('body').innerText()).includes('10 B'), 'the size is shown');
  const got = await download(anon, () => anon.getByRole('link', { name: 'Download', exact: true }).click());
  check(got.bytes.toString() === 'the report' && got.name === 'report.txt', `downloaded ${got.name}`);
  check(curl(fileUrl).body === 'the report', 'curl gets the file itself from the same link');

  // a folder: listing, escaped names, sub-folder, zip of everything
  await owner.goto(base + '/#/files/');
  const folderUrl = await createShare(owner, 'photos');
  await anon.goto(folderUrl);
  await anon.getByRole('heading', { name: 'photos' }).waitFor();
  await anon.getByRole('link', { name: XSS, exact: true }).waitFor();
  check(await anon.locator('img').count() === 0, 'a name is text, not markup');
  await anon.getByRole('link', { name: 'sub', exact: true }).click();
  await anon.getByRole('link', { name: 'b.txt', exact: true }).waitFor();
  const b = await download(anon, () => anon.getByRole('link', { name: 'b.txt', exact: true }).click());
  check(b.bytes.toString() === 'beta', 'a file in a sub-folder downloads');
  await anon.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Shared folder', exact: true }).click();
  await anon.getByRole('link', { name: 'a.txt', exact: true }).waitFor();
  const zip = await download(anon, () => anon.getByRole('link', { name: 'Download all as zip', exact: true }).click());
  const entries = zipEntries(zip.path);
  check(entries['photos/a.txt'] === 'alpha' && entries['photos/sub/b.txt'] === 'beta'
    && entries[`photos/${XSS}`] === 'xss', `the zip: ${Object.keys(entries)}`);
  const listing = JSON.parse(curl(folderUrl + '/?format=json').body);
  check(listing.entries.map((e) => e.name).join(',') === `${XSS},a.txt,sub`, `curl lists it: ${JSON.stringify(listing)}`);

  // the share pages run no script and never see the owner's session
  const cookies = await owner.context().cookies();
  const session = cookies.find((c) => c.name === 'nas_session');
  check(session && session.path === '/api/v1' && session.httpOnly, 'the session cookie is HttpOnly, Path=/api/v1');
  const own = await owner.context().newPage(); // not tracked: the refused fetch below logs an error
  const [req, page] = await Promise.all([own.waitForRequest((r) => r.url().startsWith(folderUrl)), own.goto(folderUrl + '/')]);
  const sent = await req.allHeaders();
  await own.getByRole('heading', { name: 'photos' }).waitFor();
  check(sent && !(sent.cookie || '').includes('nas_session'), `no session cookie sent to /s/: ${sent && sent.cookie}`);
  const csp = page.headers()['content-security-policy'];
  check(csp.includes("default-src 'none'") && !csp.includes('script-src') && !csp.includes('unsafe'), `CSP: ${csp}`);
  check(await own.locator('script').count() === 0, 'no script on the page');
  check((await own.evaluate(async () => (await fetch('/api/v1/me')).status).catch(() => 'blocked')) === 'blocked',
    'and a script, if one ran, could not call the API from the share page');
  await own.close();

  // the owner's Shares page: both links, the file's download counted; revoke the file's
  await owner.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Shares', exact: true }).click();
  await owner.getByRole('heading', { name: 'Share links' }).waitFor();
  const fileRow = owner.locator('tr', { has: owner.getByRole('link', { name: '/docs/report.txt', exact: true }) });
  check((await fileRow.innerText()).includes('Read-only'), 'the kind is listed');
  const count = (await fileRow.locator('td.size').innerText()).trim();
  check(/^[1-9][0-9]*$/.test(count), `no limit, the downloads counted: ${count}`);
  await owner.locator('tr', { has: owner.getByRole('link', { name: '/photos', exact: true }) }).waitFor();
  await owner.getByRole('button', { name: 'Revoke the link to report.txt' }).click();
  await owner.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await fileRow.waitFor({ state: 'detached' });
  const gone = await anon.goto(fileUrl);
  check(gone.status() === 404, `a revoked link: ${gone.status()}`);
  await anon.getByRole('heading', { name: 'This link does not work' }).waitFor();
  check(curl(fileUrl).status === 404, 'curl: 404');
  check((await anon.goto(folderUrl + '/')).status() === 200, 'the other link still works');
});
