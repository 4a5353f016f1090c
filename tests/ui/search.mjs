// Search: the box finds files and folders by part of their name, anywhere in the home,
// and shows where each one is.
import { run, newPage, signIn, check, put, rest } from './lib.mjs';

await run('search', async (browser, track) => {
  await put('/Projects/alpha/report-2024.pdf', 'pdf');
  await put('/Projects/beta/Report-final.txt', 'txt');
  await put('/Other/unrelated.txt', 'x');
  await rest('POST', '/mkdir/Projects/reports');
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('searchbox', { name: /Search/ }).fill('report');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('table', { name: 'Search results' }).waitFor();
  await page.locator('tbody tr').first().waitFor();
  const paths = (await page.locator('tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.path))).sort();
  check(JSON.stringify(paths) === JSON.stringify(['/Projects/alpha/report-2024.pdf', '/Projects/beta/Report-final.txt', '/Projects/reports']),
    `matches: ${paths}`);
  check(await page.getByText('/Projects/beta/Report-final.txt').count() === 1, 'the path is shown');
  await page.getByRole('link', { name: 'reports', exact: true }).click();
  await page.waitForURL(/#\/files\/Projects\/reports\//);
  await page.getByRole('searchbox', { name: /Search/ }).fill('nothing-like-this');
  await page.getByRole('searchbox', { name: /Search/ }).press('Enter');
  await page.getByText('Nothing matches.').waitFor();
});
