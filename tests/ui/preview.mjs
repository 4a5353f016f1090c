// Previews: an image shows (loaded with the session cookie), a long text shows its first
// 256 KiB as text, a PDF is framed from a blob, and audio plays from ranged GETs (206) of
// the download URL.
import { run, newPage, signIn, check, put } from './lib.mjs';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

function wav(seconds = 1, rate = 8000) {
  const n = seconds * rate;
  const b = Buffer.alloc(44 + n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate, 28); b.writeUInt16LE(1, 32); b.writeUInt16LE(8, 34); b.write('data', 36); b.writeUInt32LE(n, 40);
  for (let i = 0; i < n; i++) b[44 + i] = 128 + Math.round(40 * Math.sin(i / 10));
  return b;
}

const PDF = '%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';

await run('previews', async (browser, track) => {
  await put('/Media/dot.png', PNG);
  await put('/Media/long.log', 'line of text\n'.repeat(30000));
  await put('/Media/doc.pdf', PDF);
  await put('/Media/tone.wav', wav());
  const page = track(await newPage(browser));
  const ranged = [];
  page.on('response', (r) => {
    if (r.url().includes('/api/v1/download/Media/tone.wav') && r.request().headers().range) ranged.push(r.status());
  });
  await signIn(page);
  await page.getByRole('link', { name: 'Media', exact: true }).click();
  const dialog = page.getByRole('dialog');
  const close = () => dialog.getByRole('button', { name: 'Close' }).click();

  await page.getByRole('button', { name: 'dot.png', exact: true }).click();
  const img = dialog.getByRole('img', { name: 'dot.png' });
  await img.waitFor();
  await page.waitForFunction(() => document.querySelector('dialog img').complete);
  check(await img.evaluate((i) => i.naturalWidth) === 1, 'the image loaded');
  await close();

  await page.getByRole('button', { name: 'long.log', exact: true }).click();
  await dialog.locator('pre.text').waitFor();
  check((await dialog.locator('pre.text').evaluate((p) => p.textContent.length)) === 256 * 1024, 'the first 256 KiB only');
  await dialog.getByText(/Showing the first 256 KiB/).waitFor();
  await close();

  await page.getByRole('button', { name: 'doc.pdf', exact: true }).click();
  const frame = dialog.locator('iframe.pdf');
  await frame.waitFor();
  check((await frame.getAttribute('src')).startsWith('blob:'), 'the PDF is framed from a blob');
  await close();

  await page.getByRole('button', { name: 'tone.wav', exact: true }).click();
  const audio = dialog.locator('audio');
  await audio.waitFor();
  await page.waitForFunction(() => document.querySelector('dialog audio').readyState >= 1);
  const duration = await audio.evaluate((a) => a.duration);
  check(Math.abs(duration - 1) < 0.05, `the audio's duration: ${duration}`);
  check(ranged.includes(206), `the audio was read with ranged GETs: ${ranged}`);
  await close();
});
