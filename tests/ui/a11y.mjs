// Accessibility: axe-core finds no serious or critical violation on the main pages (and
// the share dialog, the Shares page and a share's recipient pages: folder, file, password,
// file drop), in the light and the dark theme, on a desktop and a phone. (The context bypasses the CSP
// only so that axe's script can be injected; the pages are otherwise as served.)
import { run, check, put, rest, launch as _launch, base, user, pass } from './lib.mjs';
import { createRequire } from 'node:module';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

async function audit(page, name) {
  await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

await run('accessibility (axe-core)', async (browser) => {
  void _launch;
  await put('/Documents/notes.txt', 'one');
  await put('/Documents/notes.txt', 'two');
  await put('/gone.txt', 'x');
  await rest('DELETE', '/files/gone.txt');
  const link = async (json) => base + (await rest('POST', '/shares', { json })).data.url;
  const recipient = [
    [await link({ path: '/Documents' }) + '/', 'Documents', 'share folder page'],
    [await link({ path: '/Documents/notes.txt' }), 'notes.txt', 'share file page'],
    [await link({ path: '/Documents/notes.txt', password: 'pw' }), 'This link is protected', 'share password page'],
    [await link({ path: '/Documents', kind: 'drop' }), 'Send files', 'share drop page'],
  ];
  const found = [];
  for (const [dark, phone] of [[false, false], [true, false], [false, true], [true, true]]) {
    const context = await browser.newContext({
      bypassCSP: true,
      colorScheme: dark ? 'dark' : 'light',
      viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const tag = `${dark ? 'dark' : 'light'}/${phone ? 'phone' : 'desktop'}`;
    await page.goto(base + '/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    found.push(...await audit(page, `sign-in ${tag}`));
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Documents', exact: true }).waitFor();
    found.push(...await audit(page, `files ${tag}`));
    for (const [hash, heading, name] of [
      ['#/versions/Documents/notes.txt', /Versions of/, 'versions'],
      ['#/trash', 'Trash', 'trash'],
      ['#/account', 'S3 access keys', 'account'],
      ['#/search?q=notes', /Names containing/, 'search'],
      ['#/admin', 'Background workers', 'admin'],
      ['#/shares', 'Share links', 'shares'],
    ]) {
      await page.goto(base + '/' + hash);
      await page.getByRole('heading', { name: heading }).waitFor();
      await page.waitForTimeout(100);
      found.push(...await audit(page, `${name} ${tag}`));
    }
    await page.goto(base + '/#/files/');
    await page.getByRole('button', { name: 'Share Documents', exact: true }).click();
    await page.getByRole('dialog', { name: 'Share Documents' }).waitFor();
    found.push(...await audit(page, `share dialog ${tag}`));
    await page.keyboard.press('Escape');
    for (const [url, heading, name] of recipient) {
      await page.goto(url);
      await page.getByRole('heading', { name: heading }).waitFor();
      found.push(...await audit(page, `${name} ${tag}`));
    }
    await context.close();
  }
  check(found.length === 0, `serious or critical accessibility violations:\n  ${found.join('\n  ')}`);
});
