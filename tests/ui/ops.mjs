// Rename, move, copy, delete and new folder from the browser, with multi-select; each
// checked against the server's view through the REST API.
import { run, newPage, signIn, check, rest, put } from './lib.mjs';

async function exists(path) {
  return (await rest('GET', `/stat${path.split('/').map(encodeURIComponent).join('/')}`)).status === 200;
}

await run('rename, move, copy, delete', async (browser, track) => {
  await put('/Work/a.txt', 'aaa');
  await put('/Work/b.txt', 'bbb');
  await put('/Work/c.txt', 'ccc');
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('link', { name: 'Work', exact: true }).click();
  await page.getByRole('button', { name: 'a.txt', exact: true }).waitFor();

  // new folder
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Folder name', { exact: true }).fill('Archive');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: 'Archive', exact: true }).waitFor();
  check(await exists('/Work/Archive'), 'the folder exists');

  // rename
  await page.getByRole('button', { name: 'Rename a.txt' }).click();
  await page.getByLabel('New name', { exact: true }).fill('alpha.txt');
  await page.getByRole('button', { name: 'Rename', exact: true }).click();
  await page.getByRole('button', { name: 'alpha.txt', exact: true }).waitFor();
  check(await exists('/Work/alpha.txt') && !(await exists('/Work/a.txt')), 'renamed on the server');

  // multi-select and move two files
  await page.getByRole('checkbox', { name: 'Select alpha.txt' }).check();
  await page.getByRole('checkbox', { name: 'Select b.txt' }).check();
  check(await page.locator('.count').innerText() === '2 selected', 'two selected');
  await page.getByRole('toolbar').getByRole('button', { name: 'Move' }).click();
  await page.getByLabel(/To folder/).fill('/Work/Archive');
  await page.getByRole('dialog').getByRole('button', { name: 'Move' }).click();
  await page.getByRole('button', { name: 'alpha.txt', exact: true }).waitFor({ state: 'detached' });
  check(await exists('/Work/Archive/alpha.txt') && await exists('/Work/Archive/b.txt'), 'moved on the server');
  check(!(await exists('/Work/b.txt')), 'the old place is empty');

  // copy one
  await page.getByRole('checkbox', { name: 'Select c.txt' }).check();
  await page.getByRole('toolbar').getByRole('button', { name: 'Copy' }).click();
  await page.getByLabel(/To folder/).fill('/Work/Archive');
  await page.getByRole('dialog').getByRole('button', { name: 'Copy' }).click();
  await page.locator('#status', { hasText: 'Copied' }).waitFor();
  check(await exists('/Work/Archive/c.txt') && await exists('/Work/c.txt'), 'copied on the server');

  // a conflict is reported in words
  await page.getByRole('button', { name: 'Rename c.txt' }).click();
  await page.getByLabel('New name', { exact: true }).fill('Archive');
  await page.getByRole('button', { name: 'Rename', exact: true }).click();
  const err = page.locator('#status.error');
  await err.waitFor();
  check((await err.innerText()).length > 5, `a conflict shows a message: ${await err.innerText()}`);
  page.problems.length = 0; // the 409 is logged by the browser

  // delete with the row's button, confirmed
  await page.getByRole('button', { name: 'Delete c.txt' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'c.txt', exact: true }).waitFor({ state: 'detached' });
  check(!(await exists('/Work/c.txt')), 'deleted on the server');
  const trash = await rest('GET', '/trash');
  check(trash.data.entries.some((t) => t.path === '/Work/c.txt'), 'it went to the trash');
});
