// Account: an app password and an S3 key are shown once (with a working copy button) and
// can be revoked; the password is changed (a wrong current one is refused in words), which
// signs the browser out, and the new one signs in.
import { run, newPage, signIn, check, base, user, pass } from './lib.mjs';

const NEW_PW = pass + '-changed';

async function status(path, u, p) {
  const res = await fetch(base + path, { headers: { Authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') } });
  return res.status;
}

await run('account: app passwords, S3 keys, password change', async (browser, track) => {
  const page = track(await newPage(browser));
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await signIn(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Account', exact: true }).click();
  await page.getByRole('heading', { name: 'App passwords' }).waitFor();

  await page.getByRole('button', { name: 'New app password' }).click();
  await page.getByLabel(/Name/).fill('phone');
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  const secret = page.getByRole('textbox', { name: 'App password' });
  await secret.waitFor();
  const app = await secret.inputValue();
  check(app.startsWith('snap_'), `an app password is shown: ${app}`);
  await page.getByRole('alert').filter({ has: secret }).getByRole('button', { name: 'Copy' }).click();
  check(await page.evaluate(() => navigator.clipboard.readText()) === app, 'the copy button copies it');
  check(await status('/api/v1/me', user, app) === 200, 'the app password signs in');
  await page.reload();
  await page.getByRole('cell', { name: 'phone', exact: true }).waitFor();
  check(await page.getByRole('textbox', { name: 'App password' }).count() === 0, 'shown once only');
  await page.getByRole('button', { name: 'Revoke phone' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('cell', { name: 'phone', exact: true }).waitFor({ state: 'detached' });
  check(await status('/api/v1/me', user, app) === 401, 'the revoked app password is refused');

  await page.getByRole('button', { name: 'New S3 key' }).click();
  await page.getByLabel(/Name/).fill('rclone');
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  const s3 = page.getByRole('textbox', { name: 'S3 secret key' });
  await s3.waitFor();
  check((await s3.inputValue()).length >= 20, 'an S3 secret is shown');
  await page.getByRole('cell', { name: 'rclone', exact: true }).waitFor();

  // the password: a wrong current one is refused in words
  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel('New password (8 characters or more)').fill(NEW_PW);
  await page.getByLabel('New password again').fill(NEW_PW);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('the current password is wrong').waitFor();
  page.problems.length = 0;
  await page.getByLabel('Current password').fill(pass);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  check((await page.locator('#status').innerText()).includes('Password changed'), 'says why it signed out');
  check(await status('/api/v1/me', user, pass) === 401, 'the old password is refused');
  await signIn(page, user, NEW_PW);
  page.problems.length = 0;
});
