// Keyboard only: sign in, open a folder, select a file, rename it through the dialog and
// close a dialog with Escape — no mouse.
import { run, newPage, check, put, base, user, pass, rest } from './lib.mjs';

async function tabTo(page, matches, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const here = await page.evaluate(() => {
      const a = document.activeElement;
      return `${a.tagName} ${a.getAttribute('aria-label') || ''} ${a.textContent.trim()}`;
    });
    if (matches(here)) return here;
  }
  throw new Error('focus never reached the element');
}

await run('keyboard navigation', async (browser, track) => {
  await put('/Keys/k.txt', 'k');
  const page = track(await newPage(browser));
  await page.goto(base + '/');
  await page.getByLabel('User name').waitFor();
  check(await page.evaluate(() => document.activeElement.id) === 'username', 'the user name has focus');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(pass);
  await page.keyboard.press('Enter');
  await page.getByRole('table', { name: 'Folder contents' }).waitFor();
  await page.getByRole('link', { name: 'Keys', exact: true }).waitFor();
  await tabTo(page, (h) => h.startsWith('A') && h.endsWith(' Keys'));
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'k.txt', exact: true }).waitFor();
  await tabTo(page, (h) => h.includes('Select k.txt'));
  await page.keyboard.press('Space');
  check(await page.locator('.count').innerText() === '1 selected', 'selected with the space bar');
  await tabTo(page, (h) => h.includes('Rename k.txt'));
  await page.keyboard.press('Enter');
  const input = page.getByLabel('New name', { exact: true });
  await input.waitFor();
  check(await page.evaluate(() => document.activeElement.id) === 'ask-input', 'the dialog takes focus');
  await page.keyboard.press('Escape');
  await input.waitFor({ state: 'detached' });
  const back = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  check(back === 'Rename k.txt', `Escape closes the dialog and focus returns to its button: ${back}`);
  await page.keyboard.press('Enter');
  await input.waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('key.txt');
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'key.txt', exact: true }).waitFor();
  check((await rest('GET', '/download/Keys/key.txt')).data === 'k', 'renamed on the server');
});
