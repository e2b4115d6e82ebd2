// `cellcam report` end to end: a small synthetic run, its report, opened in headless Chromium
// (Debian's chromium driven by playwright-core): gallery → image page → cell table, every image
// loaded, no console errors, a screenshot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(__dirname, '..');
const cli = process.env.CELLCAM_CLI ?? join(root, 'packages', 'cli', 'dist', 'main.js');
const chromium = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'cellcam-report-'));
// CELLCAM_REPORT_RUN: report an existing finished run instead of making one (quicker reruns).
const given = process.env.CELLCAM_REPORT_RUN;
const data = join(dir, 'D'), runDir = given ?? join(dir, 'R'), report = join(dir, 'report');
const cellcam = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });

if (!existsSync(chromium)) {
  console.warn(`report-browser: skipped: ${chromium} not found (install Debian's chromium: apt-get install -y chromium; .ci/run tries it)`);
}

describe.skipIf(!existsSync(chromium) || !existsSync(cli))(`cellcam report in headless Chromium (${chromium})`, () => {
  beforeAll(() => {
    if (given) return;
    let r = cellcam(['synth', '--out', data, '--images', '19', '--size', '512', '--balanced', '--test-fraction', '0.25', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    r = cellcam(['run', '--train', join(data, 'train'), '--test', join(data, 'test'), '--out', runDir, '--cycles', '1', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a self-contained report', () => {
    const r = cellcam(['report', runDir, '--out', report, '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/report: .*index\.html \(19 images, \d+ cells/);
    for (const f of ['index.html', 'gallery.html', 'cells.html', 'data/cells.js', 'assets/cells.js', 'assets/report.css']) expect(existsSync(join(report, f)), f).toBe(true);
    const index = readFileSync(join(report, 'index.html'), 'utf8');
    // offline: no external scripts, styles or images
    for (const f of ['index.html', 'gallery.html', 'cells.html']) expect(readFileSync(join(report, f), 'utf8')).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(index).toContain('Per-class AP');
    expect(index).toContain('Precision–recall curves');
    expect((index.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(4);
  }, 300_000);

  it('draws heatmaps for a run from before the cam stage stored its maps, by rerunning the image classifier', () => {
    const old = join(dir, 'R-old'), out = join(dir, 'report-old');
    cpSync(runDir, old, { recursive: true });
    for (const f of readdirSync(join(old, 'cam'))) if (f.endsWith('.cam.npy')) rmSync(join(old, 'cam', f));
    const r = cellcam(['report', old, '--out', out, '--images', '2', '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).not.toContain('could not be loaded');
    const layers = readdirSync(join(out, 'img')).flatMap((d) => readdirSync(join(out, 'img', d)).filter((f) => /^cam-\d+\.png$/.test(f)));
    expect(layers.length).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('navigates gallery → image page → cell table with every image loaded and no console errors', async () => {
    const { chromium: pw } = await import('playwright-core');
    const browser = await pw.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--allow-file-access-from-files'] });
    const errors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
      const imagesLoaded = async () => {
        await page.waitForLoadState('load');
        const imgs = await page.$$eval('img', (xs) => xs.map((x) => ({ src: x.getAttribute('src'), ok: x.complete && x.naturalWidth > 0, lazy: x.loading === 'lazy' })));
        return imgs;
      };
      await page.goto(pathToFileURL(join(report, 'index.html')).href);
      expect(await page.locator('h1').textContent()).toContain('Run');

      await page.click('#nav-gallery');
      await page.waitForURL(/gallery\.html$/);
      const cards = page.locator('.gallery a.card');
      expect(await cards.count()).toBe(19);
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => [...document.images].every((i) => i.complete));
      const g = await imagesLoaded();
      expect(g.filter((x) => !x.ok), JSON.stringify(g.filter((x) => !x.ok))).toEqual([]);

      await cards.first().click();
      await page.waitForURL(/images\/.+\.html$/);
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => [...document.images].every((i) => i.complete));
      const im = await imagesLoaded();
      expect(im.length).toBeGreaterThanOrEqual(3); // composite, colour bar, heatmaps
      expect(im.filter((x) => !x.ok), JSON.stringify(im.filter((x) => !x.ok))).toEqual([]);
      expect(await page.locator('#composite').evaluate((x: HTMLImageElement) => x.naturalWidth)).toBe(512);
      expect(await page.locator('.figure .mark').count()).toBeGreaterThan(3);
      expect(await page.locator('.heat .card').count()).toBeGreaterThan(0);
      // each heatmap: the map-resolution colour layer stretched exactly over the greyed composite
      const stack = await page.locator('.heat .layers').first().evaluate((el) => {
        const [base, layer] = [el.querySelector('img.base') as HTMLImageElement, el.querySelector('img.layer') as HTMLImageElement];
        const [b, l] = [base.getBoundingClientRect(), layer.getBoundingClientRect()];
        return { box: [b.x - l.x, b.y - l.y, b.width - l.width, b.height - l.height].map((v) => Math.abs(v)), filter: getComputedStyle(base).filter, natural: [layer.naturalWidth, base.naturalWidth], width: b.width };
      });
      expect(Math.max(...stack.box)).toBeLessThan(1);
      expect(stack.width).toBeGreaterThan(100);
      expect(stack.filter).toMatch(/grayscale\(1\).*brightness\(0\.45\)/);
      expect(stack.natural[0]).toBeGreaterThan(0);
      expect(stack.natural[0]).toBeLessThan(stack.natural[1]); // the layer is the map itself, not an upsampled image

      await page.click('#to-cells');
      await page.waitForURL(/cells\.html#image=/);
      await page.waitForSelector('#cells-body tr');
      const rows = await page.locator('#cells-body tr').count();
      expect(rows).toBeGreaterThan(3);
      const total = Number((await page.locator('#count').textContent())!.split(' of ')[1].split(' ')[0]);
      expect(rows).toBeLessThan(total); // filtered to the one image
      // sort by confidence (descending) and check the order in the table
      await page.click('th[data-key="conf"]');
      const conf = (await page.locator('#cells-body td:nth-child(9)').allTextContents()).map(Number);
      expect(conf).toEqual([...conf].sort((a, b) => b - a));
      await page.waitForFunction(() => [...document.images].every((i) => i.complete));
      const th = await imagesLoaded();
      expect(th.length).toBe(rows);
      expect(th.filter((x) => !x.ok)).toEqual([]);
      // a class filter over all images
      await page.fill('#f-image', '');
      await page.selectOption('#f-class', { index: 2 });
      await page.locator('#count').textContent();
      await page.screenshot({ path: join(dir, 'report.png') });
      expect(readFileSync(join(dir, 'report.png')).length).toBeGreaterThan(10_000);
      if (process.env.CELLCAM_REPORT_SCREENSHOT) {
        // docs/images/report.png is taken this way (see docs/report.md)
        await page.goto(pathToFileURL(join(report, 'gallery.html')).href);
        await cards.nth(0).click();
        await page.waitForLoadState('load');
        await page.screenshot({ path: process.env.CELLCAM_REPORT_SCREENSHOT });
      }
    } finally {
      await browser.close();
    }
    expect(errors).toEqual([]);
  }, 300_000);
});
