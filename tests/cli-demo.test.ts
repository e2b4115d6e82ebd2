// `cellcam demo` (the README's main-job command) end to end on a small balanced set.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'cellcam-demo-'));

describe.skipIf(!existsSync(cli))('cellcam demo', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('synthesizes, segments, writes and scores the baselines', () => {
    const r = spawnSync(process.execPath, [cli, 'demo', '--out', dir, '--images', '19', '--size', '512', '--seed', '2'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cell-mask AP@0\.6 0\.\d{3}/);
    const rows = r.stdout.split('\n').filter((l) => /^\| (broadcast|random|oracle) \|/.test(l));
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).toMatch(/\| valid \|$/);
    expect(rows.find((l) => l.startsWith('| oracle | truth |'))).toMatch(/\| 1\.0000 \|/);
    for (const f of ['data/truth.csv', 'segmentation/segmentation.csv', 'broadcast-truth-cells.csv', 'oracle-predicted-cells.csv']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
  });
});
