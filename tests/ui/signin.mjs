// Sign in: a wrong password is refused with the server's message; the right one opens
// the file list; the session is an HttpOnly cookie (the page's script cannot read it)
// and signing out ends it.
import { run, newPage, signIn, check, base, user, pass } from './lib.mjs';

await run('sign in', async (browser, track) => {
  const page = track(await newPage(browser));
  await page.goto(base + '/');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(pass + '-wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const err = page.locator('#signin-error');
  await err.waitFor();
  const message = await err.innerText();
  check(/wrong|password|invalid/i.test(message), `the wrong-password message is words: ${message}`);
  page.problems.length = 0; // the 401 of the wrong password is logged by the browser

  await signIn(page);
  check(await page.locator('#who').innerText() === user, 'the signed-in user is named');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'nas_session');
  check(session && session.httpOnly && session.sameSite === 'Lax', `HttpOnly SameSite=Lax session cookie: ${JSON.stringify(session)}`);
  check(!(await page.evaluate(() => document.cookie)).includes('nas_session'), 'the script cannot read the session cookie');

  // a reload keeps the session
  await page.reload();
  await page.getByRole('table', { name: 'Folder contents' }).waitFor();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  const after = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  check(after === 401, `signed out: /me answers ${after}`);
  page.problems.length = 0;
});
