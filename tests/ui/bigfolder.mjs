// A large folder: `node bigfolder.mjs URL USER PASS FOLDER ENTRIES` — the folder's first
// page appears without loading the rest (200 rows, a "Show more" button), and the time
// from clicking the folder's link to its first page on screen is printed (no bound beyond
// a generous one: figures belong in reports, not assertions).
import { run, newPage, signIn, check, base } from './lib.mjs';

const folder = process.argv[5] || 'big';
const entries = Number(process.argv[6] || 0);

await run(`a folder of ${entries} entries`, async (browser, track) => {
  const page = track(await newPage(browser));
  await signIn(page);
  const times = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(base + '/#/files/');
    await page.getByRole('link', { name: folder, exact: true }).waitFor();
    const t0 = Date.now();
    await page.getByRole('link', { name: folder, exact: true }).click();
    await page.locator('table.entries tbody tr').nth(199).waitFor();
    times.push(Date.now() - t0);
  }
  const rows = await page.locator('table.entries tbody tr').count();
  check(rows === 200, `the first page only: ${rows} rows`);
  await page.getByRole('button', { name: 'Show more', exact: true }).waitFor();
  await page.goto('about:blank');
  const cold = Date.now();
  await page.goto(base + '/#/files/' + encodeURIComponent(folder) + '/');
  await page.locator('table.entries tbody tr').nth(199).waitFor();
  const load = Date.now() - cold;
  console.log(`first page of ${entries} entries after clicking the folder: ${times.join(', ')} ms; after loading the page at its address: ${load} ms`);
  check(Math.max(...times) < 10000, 'within a generous 10 s');
});
