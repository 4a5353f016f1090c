// Trash: a deleted file is listed and restored to its place; another restored to a new
// place; one deleted forever; the trash emptied.
import { run, newPage, signIn, check, rest, put } from './lib.mjs';

await run('trash restore', async (browser, track) => {
  await put('/keep/one.txt', '1');
  await put('/keep/two.txt', '22');
  await put('/keep/three.txt', '333');
  await put('/keep/four.txt', '4444');
  for (const n of ['one', 'two', 'three', 'four']) await rest('DELETE', `/files/keep/${n}.txt`);
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Trash', exact: true }).click();
  await page.getByRole('heading', { name: 'Trash' }).waitFor();
  check(await page.locator('tbody tr').count() === 4, 'four entries');

  await page.getByRole('button', { name: 'Restore /keep/one.txt', exact: true }).click();
  await page.locator('tr[data-path="/keep/one.txt"]').waitFor({ state: 'detached' });
  check((await rest('GET', '/download/keep/one.txt')).data === '1', 'restored to its place');

  await page.getByRole('button', { name: 'Restore elsewhere: /keep/two.txt' }).click();
  await page.getByLabel(/New path/).fill('/two-again.txt');
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  await page.locator('tr[data-path="/keep/two.txt"]').waitFor({ state: 'detached' });
  check((await rest('GET', '/download/two-again.txt')).data === '22', 'restored to a new place');

  await page.getByRole('button', { name: 'Delete forever: /keep/three.txt' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete forever' }).click();
  await page.locator('tr[data-path="/keep/three.txt"]').waitFor({ state: 'detached' });
  check(!(await rest('GET', '/trash')).data.entries.some((t) => t.path === '/keep/three.txt'), 'gone from the trash');

  await page.getByRole('button', { name: 'Empty trash' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Empty trash' }).click();
  await page.getByText('The trash is empty.', { exact: true }).waitFor();
  check((await rest('GET', '/trash')).data.entries.length === 0, 'the trash is empty on the server');
});
