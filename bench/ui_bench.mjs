// The web UI's timings for bench/ui.sh, in Debian's chromium (playwright-core from tests/ui):
//   node bench/ui_bench.mjs URL USER PASS upload FILE   → seconds from picking FILE in the
//     upload dialog to its row saying "Done" (tus, the UI's own code path)
//   node bench/ui_bench.mjs URL USER PASS firstpage FOLDER NAME → milliseconds from clicking
//     FOLDER in the home's list to its entry NAME (on the first page) shown
// Prints one number on standard output.
import { launch, newPage, signIn } from '../tests/ui/lib.mjs';
import { basename } from 'node:path';

const [what, arg, name] = process.argv.slice(5);
const browser = await launch();
try {
  const page = await newPage(browser);
  page.setDefaultTimeout(600000);
  await signIn(page);
  if (what === 'upload') {
    const t = performance.now();
    await page.locator('#upload-input').setInputFiles(arg);
    await page.locator(`li.upload[data-name="${basename(arg)}"] .state`, { hasText: 'Done' }).waitFor();
    console.log(((performance.now() - t) / 1000).toFixed(3));
  } else if (what === 'firstpage') {
    const t = performance.now();
    await page.getByRole('link', { name: arg, exact: true }).click();
    await page.getByRole('button', { name, exact: true }).waitFor();
    console.log((performance.now() - t).toFixed(0));
  } else {
    throw new Error(`unknown measurement ${what}`);
  }
} finally {
  await browser.close();
}
