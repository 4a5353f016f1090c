// Browse: folders open by their links, the breadcrumbs lead back, a folder larger than a
// page shows its first page only and loads the next on demand, and sorting by size works.
import { run, newPage, signIn, check, rest, put, enc } from './lib.mjs';

const N = 230; // more than one page (200)

await run('browse + breadcrumbs + paging', async (browser, track) => {
  await put('/Photos/2024/summer/beach.txt', 'sand');
  await put('/Photos/2024/winter.txt', 'snow!');
  await rest('POST', '/mkdir/Many');
  const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(4, '0')}.txt`);
  for (let i = 0; i < names.length; i += 23) {
    await Promise.all(names.slice(i, i + 23).map((n, j) => rest('PUT', `/upload/Many/${enc(n)}`, { body: 'x'.repeat(i + j) })));
  }

  const page = track(await newPage(browser));
  await signIn(page);
  const rows = page.locator('table.list tbody tr');
  await page.getByRole('link', { name: 'Photos', exact: true }).click();
  await page.getByRole('link', { name: '2024', exact: true }).click();
  await page.getByRole('link', { name: 'summer', exact: true }).click();
  await page.getByRole('button', { name: 'beach.txt', exact: true }).waitFor();
  const crumbs = (await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('listitem').allInnerTexts()).join('/');
  check(crumbs === 'Home/Photos/2024/summer', `breadcrumbs: ${crumbs}`);
  check(await page.getByRole('navigation', { name: 'Breadcrumb' }).locator('[aria-current="page"]').innerText() === 'summer', 'the current folder is marked');
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: '2024', exact: true }).click();
  await page.getByRole('button', { name: 'winter.txt', exact: true }).waitFor();
  check(await rows.count() === 2, '2024 holds summer and winter.txt');
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Home', exact: true }).click();
  await page.getByRole('link', { name: 'Many', exact: true }).click();

  // paging: the first page only, then the rest on demand
  await page.getByRole('button', { name: 'f0000.txt', exact: true }).waitFor();
  check(await rows.count() === 200, `first page shows 200 rows, not ${await rows.count()}`);
  await page.getByRole('button', { name: 'Show more', exact: true }).click();
  await page.getByRole('button', { name: `f${String(N - 1).padStart(4, '0')}.txt`, exact: true }).waitFor();
  check(await rows.count() === N, `all ${N} rows after "Show more"`);
  check(await page.getByRole('button', { name: 'Show more', exact: true }).isHidden(), 'no more pages');

  // sort by size, largest first (two clicks: ascending, then descending)
  await page.getByRole('link', { name: 'Size', exact: true }).click();
  await page.waitForURL(/sort=size&order=asc/);
  await page.getByRole('link', { name: /Size/ }).click();
  await page.waitForURL(/sort=size&order=desc/);
  await page.getByRole('button', { name: `f${String(N - 1).padStart(4, '0')}.txt`, exact: true }).waitFor();
  const first = await rows.first().getAttribute('data-path');
  check(first === `/Many/f${String(N - 1).padStart(4, '0')}.txt`, `largest first: ${first}`);
});
