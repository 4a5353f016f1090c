// Drag-and-drop and folder uploads: files dropped on the list are uploaded into the
// folder shown; a folder chosen with the folder picker keeps its tree.
import { run, newPage, signIn, check, rest } from './lib.mjs';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

await run('drag-and-drop and folder upload', async (browser, track) => {
  await rest('POST', '/mkdir/Drop');
  const page = track(await newPage(browser));
  await signIn(page);
  await page.getByRole('link', { name: 'Drop', exact: true }).click();
  await page.locator('p.empty').waitFor();

  // a drop of two files on the list
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['dropped one'], 'one.txt', { type: 'text/plain' }));
    d.items.add(new File(['dropped two!'], 'two.txt', { type: 'text/plain' }));
    return d;
  });
  const zone = page.getByRole('region', { name: 'Files' });
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await page.getByRole('button', { name: 'two.txt', exact: true }).waitFor();
  check((await rest('GET', '/download/Drop/one.txt')).data === 'dropped one', 'one.txt arrived');
  check((await rest('GET', '/download/Drop/two.txt')).data === 'dropped two!', 'two.txt arrived');

  // a folder with a subfolder, through the folder picker
  const dir = mkdtempSync(join(tmpdir(), 'nas-ui-'));
  try {
    mkdirSync(join(dir, 'album', 'raw'), { recursive: true });
    writeFileSync(join(dir, 'album', 'cover.txt'), 'cover');
    writeFileSync(join(dir, 'album', 'raw', 'img-1.txt'), 'raw one');
    await page.locator('#upload-folder-input').setInputFiles(join(dir, 'album'));
    await page.getByRole('link', { name: 'album', exact: true }).waitFor();
    await page.locator('li.upload[data-name="album/raw/img-1.txt"] .state', { hasText: 'Done' }).waitFor();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  check((await rest('GET', '/download/Drop/album/cover.txt')).data === 'cover', 'album/cover.txt arrived');
  check((await rest('GET', '/download/Drop/album/raw/img-1.txt')).data === 'raw one', 'the subfolder kept its place');
});
