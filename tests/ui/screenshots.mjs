// Screenshots of the main pages, light and dark, desktop and phone, into docs/ui/
// (run by hand against a server: `node screenshots.mjs URL USER PASS`; it makes its own
// sample files in the user's home).
import { run, newPage, signIn, put, rest } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const out = new URL('../../docs/ui/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });

await run('screenshots', async (browser) => {
  await put('/Photos/2024/beach.jpg', 'not really a jpeg');
  await put('/Documents/report.pdf', '%PDF-1.4 sample');
  await put('/Documents/notes.txt', 'first');
  await put('/Documents/notes.txt', 'second version of the notes');
  await put('/Music/song.mp3', 'sample');
  await put('/todo.md', '# To do\n- back up the phone\n');
  await put('/old-draft.txt', 'old');
  await rest('DELETE', '/files/old-draft.txt');
  for (const phone of [false, true]) {
    for (const dark of [false, true]) {
      const page = await newPage(browser, { phone, dark });
      const tag = `${dark ? 'dark' : 'light'}-${phone ? 'phone' : 'desktop'}`;
      await page.goto(process.argv[2] + '/');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.screenshot({ path: `${out}signin-${tag}.png` });
      await signIn(page);
      await page.getByRole('link', { name: 'Documents', exact: true }).click();
      await page.getByRole('button', { name: 'notes.txt', exact: true }).waitFor();
      await page.screenshot({ path: `${out}files-${tag}.png` });
      await page.goto(process.argv[2] + '/#/versions/Documents/notes.txt');
      await page.getByRole('heading', { name: /Versions of/ }).waitFor();
      await page.screenshot({ path: `${out}versions-${tag}.png` });
      await page.goto(process.argv[2] + '/#/trash');
      await page.getByRole('heading', { name: 'Trash' }).waitFor();
      await page.screenshot({ path: `${out}trash-${tag}.png` });
      await page.goto(process.argv[2] + '/#/account');
      await page.getByRole('heading', { name: 'S3 access keys' }).waitFor();
      await page.screenshot({ path: `${out}account-${tag}.png`, fullPage: true });
      // sharing: the dialog with its link, the Shares page, and what the recipient sees
      await page.goto(process.argv[2] + '/#/files/');
      await page.getByRole('button', { name: 'Share Documents', exact: true }).click();
      const dlg = page.getByRole('dialog', { name: 'Share Documents' });
      await dlg.getByRole('button', { name: 'Create link' }).click();
      const link = await dlg.getByRole('textbox', { name: 'Share link' }).inputValue();
      await page.screenshot({ path: `${out}share-dialog-${tag}.png` });
      await dlg.getByRole('button', { name: 'Done' }).click();
      await page.goto(process.argv[2] + '/#/shares');
      await page.getByRole('heading', { name: 'Share links' }).waitFor();
      await page.screenshot({ path: `${out}shares-${tag}.png` });
      const anon = await newPage(browser, { phone, dark });
      await anon.goto(link);
      await anon.getByRole('link', { name: 'Download all as zip', exact: true }).waitFor();
      await anon.screenshot({ path: `${out}share-page-${tag}.png` });
      await anon.context().close();
      await page.context().close();
    }
  }
});
