// A share link with a password, an expiry date and a download limit, made in the UI:
// the recipient's page asks for the password (a wrong one is refused in words, the right
// one opens the file's page); curl gives it by Basic; the Shares page counts downloads
// against the limit. An expired link (made by REST with a short expiry) answers 410 with
// a page that says so, in the browser and with curl.
import { run, newPage, signIn, check, put, rest, base, curl, download } from './lib.mjs';

await run('share links: password, expiry, download limit', async (browser, track) => {
  await put('/secret.txt', 'the secret');
  await put('/soon.txt', 'soon gone');
  const owner = track(await newPage(browser));
  await signIn(owner);
  await owner.getByRole('button', { name: 'Share secret.txt', exact: true }).click();
  const dlg = owner.getByRole('dialog', { name: 'Share secret.txt' });
  await dlg.getByLabel('Password (optional)').fill('open sesame');
  const nextYear = `${new Date().getFullYear() + 1}-06-30`;
  await dlg.getByLabel('Expires after (optional)').fill(nextYear);
  await dlg.getByLabel(/Download limit/).fill('5');
  await dlg.getByRole('button', { name: 'Create link' }).click();
  const url = await dlg.getByRole('textbox', { name: 'Share link' }).inputValue();
  await dlg.getByRole('button', { name: 'Done' }).click();

  // the recipient: the password form; wrong, then right
  const anon = track(await newPage(browser));
  const first = await anon.goto(url);
  check(first.status() === 401, `asks for the password: ${first.status()}`);
  await anon.getByRole('heading', { name: 'This link is protected' }).waitFor();
  await anon.getByLabel('Password').fill('not it');
  await anon.getByRole('button', { name: 'Open' }).click();
  await anon.getByRole('alert').getByText('wrong password').waitFor();
  await anon.getByLabel('Password').fill('open sesame');
  await anon.getByRole('button', { name: 'Open' }).click();
  await anon.getByRole('heading', { name: 'secret.txt' }).waitFor();
  const got = await download(anon, () => anon.getByRole('link', { name: 'Download', exact: true }).click());
  check(got.bytes.toString() === 'the secret', 'the right password opens it');
  const shareCookie = (await anon.context().cookies()).find((c) => c.name.startsWith('nas_share_'));
  check(shareCookie && shareCookie.path.startsWith('/s/') && shareCookie.httpOnly, 'a cookie for this link only');

  // curl: Basic with any user name
  check(curl(url).status === 401, 'curl without the password: 401');
  check(curl(url, ['-u', ':wrong']).status === 401, 'curl with a wrong one: 401');
  const ok = curl(url, ['-u', ':open sesame']);
  check(ok.status === 200 && ok.body === 'the secret', `curl with it: ${ok.status}`);

  // the owner's list: password, expiry, downloads against the limit
  await owner.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Shares', exact: true }).click();
  const row = owner.locator('tr', { has: owner.getByRole('link', { name: '/secret.txt', exact: true }) });
  await row.waitFor();
  const text = await row.innerText();
  check(text.includes('password') && !text.includes('never'), `password and expiry shown: ${text}`);
  check((await row.locator('td.size').innerText()).trim() === '2 / 5', 'two of five downloads');
  const listed = (await rest('GET', '/shares')).data.find((s) => s.path === '/secret.txt');
  const end = new Date(listed.expires_at * 1000);
  check(end.getFullYear() === new Date().getFullYear() + 1 && end.getMonth() === 5 && end.getDate() === 30,
    `expires at the end of the chosen day: ${end}`);

  // an expired link: 410, in words
  const r = await rest('POST', '/shares', { json: { path: '/soon.txt', expires_at: Math.floor(Date.now() / 1000) + 2 } });
  check(r.status === 201, `short expiry: ${r.status}`);
  const soon = base + r.data.url;
  check(curl(soon).body === 'soon gone', 'works before its expiry');
  await new Promise((ok) => setTimeout(ok, 3500));
  const late = await anon.goto(soon);
  check(late.status() === 410, `expired: ${late.status()}`);
  await anon.getByRole('heading', { name: 'This link has ended' }).waitFor();
  check((await anon.locator('body').innerText()).includes('This share has expired'), 'says why');
  check(curl(soon).status === 410, 'curl: 410');
});
