// File names are text, never HTML: a file named `<img src=x onerror=alert(1)>.txt` (and
// a folder named `<svg onload=alert(2)>`) show as those characters in the list, the
// breadcrumbs, search, versions, trash and the preview, and no dialog ever fires.
import { run, newPage, signIn, check, put, rest, enc } from './lib.mjs';

const FILE = '<img src=x onerror=alert(1)>.txt';
const DIR = '<svg onload=alert(2)>';

await run('XSS file name inert', async (browser, track) => {
  await put(`/${DIR}/${FILE}`, '<script>alert(3)</script>');
  await put(`/${FILE}`, '<b>not bold</b>');
  await put(`/${FILE}`, 'v2 <img src=y onerror=alert(4)>');
  const page = track(await newPage(browser));
  await signIn(page);
  const name = page.getByRole('button', { name: FILE, exact: true });
  await name.waitFor();
  check(await name.innerText() === FILE, 'the name is shown as text');
  check(await page.locator('img[src="x"], svg[onload]').count() === 0, 'no element was made from a name');

  // preview: the text content is text too
  await name.click();
  const pre = page.locator('pre.text');
  await pre.waitFor();
  check((await pre.innerText()).includes('<img src=y onerror=alert(4)>'), 'the preview shows the text');
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

  // the folder, its breadcrumb, the file inside
  await page.getByRole('link', { name: DIR, exact: true }).click();
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByText(DIR, { exact: true }).waitFor();
  await page.getByRole('button', { name: FILE, exact: true }).waitFor();

  // search and versions
  await page.getByRole('searchbox', { name: /Search/ }).fill('onerror');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('tbody tr').nth(1).waitFor();
  await page.goto(`${process.argv[2]}/#/versions${enc('/' + FILE)}`);
  await page.getByRole('heading', { name: `Versions of ${FILE}` }).waitFor();

  // trash
  await rest('DELETE', `/files${enc('/' + DIR + '/' + FILE)}`);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Trash', exact: true }).click();
  await page.getByText(`/${DIR}/${FILE}`, { exact: true }).waitFor();

  await page.waitForTimeout(300); // give a stray handler the chance to fire
  check(await page.locator('img[src="x"], img[src="y"], svg[onload]').count() === 0, 'still no element made from a name');
  check(await page.evaluate(() => document.title).then((t) => !t.includes('<script')), 'title is plain');
});
