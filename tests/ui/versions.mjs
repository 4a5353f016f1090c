// Versions: a file's versions are listed (newest first) and an old one restored becomes
// the newest; each version can be downloaded.
import { run, newPage, signIn, check, rest, put } from './lib.mjs';

await run('versions restore', async (browser, track) => {
  await put('/notes.txt', 'first');
  await put('/notes.txt', 'second!');
  await put('/notes.txt', 'third!!!');
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('link', { name: 'Versions of notes.txt', exact: true }).click();
  await page.getByRole('heading', { name: 'Versions of notes.txt' }).waitFor();
  const rows = page.locator('tbody tr');
  check(await rows.count() === 3, `three versions, not ${await rows.count()}`);
  check(await rows.first().getAttribute('data-version') === '3', 'newest first');
  const by = await rows.first().locator('td.author').innerText();
  check(by === process.argv[3], `the version says who saved it (${process.argv[3]}): ${by}`);
  const href = await page.getByRole('link', { name: 'Download version 1', exact: true }).getAttribute('href');
  const v1 = await page.evaluate(async (u) => (await fetch(u)).text(), href);
  check(v1 === 'first', `version 1 downloads: ${v1}`);

  await page.getByRole('button', { name: 'Restore version 1' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  await page.locator('tbody tr').nth(3).waitFor();
  check(await rows.first().getAttribute('data-version') === '4', 'the restored version is the newest');
  const now = await rest('GET', '/download/notes.txt');
  check(now.data === 'first', `the file holds version 1 again: ${now.data}`);
});
