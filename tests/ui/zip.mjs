// Folders as ZIP from the file browser: a folder row's "Zip" link, and the toolbar's
// "Download as zip" (the one selected folder; the folder shown when nothing is selected;
// disabled for a selection with files or several entries). Each archive is checked by
// Python's zipfile (names, every CRC, the content).
import { run, newPage, signIn, check, put, rest, download, zipEntries } from './lib.mjs';

await run('folder zip download', async (browser, track) => {
  await put('/proj/a.txt', 'alpha');
  await put('/proj/sub/b.txt', 'beta');
  await rest('POST', '/mkdir/proj/empty');
  await put('/top.txt', 'top');
  const page = track(await newPage(browser));
  await signIn(page);

  const row = await download(page, () => page.getByRole('link', { name: 'Download proj as zip', exact: true }).click());
  check(row.name === 'proj.zip', `named after the folder: ${row.name}`);
  const want = { 'proj/': '', 'proj/a.txt': 'alpha', 'proj/empty/': '', 'proj/sub/': '', 'proj/sub/b.txt': 'beta' };
  const got = zipEntries(row.path);
  check(JSON.stringify(got) === JSON.stringify(want), `the archive: ${JSON.stringify(got)}`);

  // the toolbar: one selected folder
  const zipButton = page.getByRole('button', { name: 'Download as zip' });
  await page.getByRole('checkbox', { name: 'Select proj' }).check();
  check(await zipButton.isEnabled(), 'enabled for one folder');
  const sel = await download(page, () => zipButton.click());
  check(JSON.stringify(zipEntries(sel.path)) === JSON.stringify(want), 'the selected folder');
  await page.getByRole('checkbox', { name: 'Select top.txt' }).check();
  check(await zipButton.isDisabled(), 'disabled with a file selected');
  await page.getByRole('checkbox', { name: 'Select proj' }).uncheck();
  check(await zipButton.isDisabled(), 'disabled for a file alone');
  await page.getByRole('checkbox', { name: 'Select top.txt' }).uncheck();

  // nothing selected, inside a folder: that folder
  await page.getByRole('link', { name: 'proj', exact: true }).click();
  await page.getByRole('link', { name: 'sub', exact: true }).waitFor();
  const here = await download(page, () => zipButton.click());
  check(here.name === 'proj.zip' && zipEntries(here.path)['proj/sub/b.txt'] === 'beta', 'the folder shown');
});
