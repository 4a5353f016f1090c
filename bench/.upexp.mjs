import { launch, newPage, signIn } from '../tests/ui/lib.mjs';
const [mode, file] = process.argv.slice(5);
const browser = await launch();
try {
  const page = await newPage(browser);
  page.setDefaultTimeout(600000);
  await signIn(page);
  await page.evaluate(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'xp'; document.body.append(i); });
  const t0 = performance.now(); await page.locator('#xp').setInputFiles(file); console.log('setInputFiles', ((performance.now() - t0) / 1000).toFixed(2));
  const secs = await page.evaluate(async ([mode]) => {
    const f = document.getElementById('xp').files[0];
    const csrf = document.cookie.split('; ').find((c) => c.startsWith('nas_csrf='))?.split('=')[1];
    const t = performance.now();
    const create = async (len, name) => {
      const r = await fetch('/api/v1/tus', { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'X-CSRF-Token': csrf, 'Upload-Length': String(len), 'Upload-Metadata': 'filename ' + btoa(name) } });
      return r.headers.get('location');
    };
    const xhr = (url, blob, off) => new Promise((res, rej) => { const x = new XMLHttpRequest(); x.open('PATCH', url); x.setRequestHeader('Tus-Resumable', '1.0.0'); x.setRequestHeader('X-CSRF-Token', csrf); x.setRequestHeader('Upload-Offset', String(off)); x.setRequestHeader('Content-Type', 'application/offset+octet-stream'); x.upload.onprogress = (ev) => { if (window.__bar) { window.__bar.value = ev.loaded; window.__pct.textContent = Math.floor(100 * ev.loaded / blob.size) + '%'; } }; x.onload = () => res(x.status); x.onerror = rej; x.send(blob); });
    if (mode === 'xhrslice') { const u = await create(f.size, 's' + t); await xhr(u, f.slice(0), 0); }
    if (mode === 'xhrdom') { window.__bar = document.createElement('progress'); window.__bar.max = f.size; window.__pct = document.createElement('span'); document.body.append(window.__bar, window.__pct); const u = await create(f.size, 'd' + t); await xhr(u, f, 0); }
    if (mode === 'xhr') { const u = await create(f.size, 'x' + t); await xhr(u, f, 0); }
    if (mode === 'fetch') { const u = await create(f.size, 'f' + t); await fetch(u, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'X-CSRF-Token': csrf, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: f }); }
    if (mode === 'xhr4') { const n = 4, step = Math.ceil(f.size / n); await Promise.all([...Array(n).keys()].map(async (i) => { const b = f.slice(i * step, (i + 1) * step); const u = await create(b.size, `p${i}-` + t); await xhr(u, b, 0); })); }
    return (performance.now() - t) / 1000;
  }, [mode]);
  console.log(mode, secs.toFixed(2), (f => f)(''));
} finally { await browser.close(); }
