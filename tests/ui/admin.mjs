// Administration: create a user, set their quota, disable and enable them, change their
// role, remove them; the storage
// statistics and the background workers are shown and a worker can be started.
import { run, newPage, signIn, check, base } from './lib.mjs';

async function status(u, p) {
  const res = await fetch(base + '/api/v1/me', { headers: { Authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') } });
  return { status: res.status, body: res.ok ? await res.json() : null };
}

await run('admin: users, stats, workers', async (browser, track) => {
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Admin', exact: true }).click();
  await page.getByRole('heading', { name: 'Users' }).waitFor();

  await page.getByLabel('Name', { exact: true }).fill('bob');
  await page.getByLabel('Password', { exact: true }).fill('bob-password-1');
  await page.getByRole('button', { name: 'Create user' }).click();
  const bob = page.locator('tr[data-user="bob"]');
  await bob.waitFor();
  check((await status('bob', 'bob-password-1')).status === 200, 'bob signs in');

  await page.getByRole('button', { name: 'Quota of bob' }).click();
  await page.getByRole('dialog').getByRole('textbox').fill('2G');
  await page.getByRole('dialog').getByRole('button', { name: 'Set' }).click();
  await bob.getByText('2.0 GiB').waitFor();
  check((await status('bob', 'bob-password-1')).body.quota === 2 ** 31, 'the quota is set');

  await page.getByRole('button', { name: 'Disable bob' }).click();
  await bob.getByText('disabled', { exact: true }).waitFor();
  check((await status('bob', 'bob-password-1')).status === 401, 'a disabled user is refused');
  await page.getByRole('button', { name: 'Enable bob' }).click();
  await bob.getByText('active', { exact: true }).waitFor();
  check((await status('bob', 'bob-password-1')).status === 200, 'enabled again');

  await page.getByRole('button', { name: 'Role of bob' }).click();
  await page.getByRole('dialog').getByRole('textbox').fill('readonly');
  await page.getByRole('dialog').getByRole('button', { name: 'Set' }).click();
  await bob.getByText('readonly', { exact: true }).waitFor();
  check((await status('bob', 'bob-password-1')).body.role === 'readonly', 'the role is set');
  // an error is shown in words
  await page.getByRole('button', { name: 'Role of bob' }).click();
  await page.getByRole('dialog').getByRole('textbox').fill('emperor');
  await page.getByRole('dialog').getByRole('button', { name: 'Set' }).click();
  await page.locator('#status.error', { hasText: 'unknown role' }).waitFor();
  page.problems.length = 0;

  await page.getByRole('button', { name: 'Remove bob' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await bob.waitFor({ state: 'detached' });
  check((await status('bob', 'bob-password-1')).status === 401, 'bob is gone');

  await page.getByRole('heading', { name: 'Storage' }).waitFor();
  await page.getByRole('heading', { name: 'Background workers' }).waitFor();
  await page.getByRole('button', { name: 'Run now: trash' }).click();
  await page.locator('#status', { hasText: 'Started trash' }).waitFor();
});
