// `npm run bench -- --impl`: which contenders run (a GPU session times only the rows it needs
// inside its device minutes; packages/native/test/gpu-verify.sh); the end-to-end segment rows.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selected } from '../packages/bench/src/harness.js';
import { capabilities } from '@cellcam/core';

const root = resolve(__dirname, '..');
// The entry `npm run bench` runs (it sizes libuv's pool, so the bench does not start itself again).
const main = join(root, 'packages', 'bench', 'bin', 'bench.cjs');
const addon = join(root, 'packages', 'native', 'build', 'Release', 'cellcam_native.node');

describe('bench --impl', () => {
  it.each([
    [null, 'ts', true],
    [['cuda'], 'cuda', true],
    [['cuda'], 'cuda ×16 at once', true],
    [['cuda'], 'cuda labelCellBatch ×16', true],
    [['cuda'], 'cuda 4 × labelCellBatch ×16 at once', true],
    [['cuda'], 'native-Nt ×16 at once', false],
    [['native-1t', 'cuda'], 'native-1t scale 0.25', true],
    [['native-1t', 'cuda'], 'native-Nt', false],
    [['native-1t', 'cuda'], 'ts', false],
    [[], 'ts', false],
  ] as const)('with %j selects %s: %s', (impl, name, want) => {
    expect(selected({ impl: impl === null ? null : [...impl] }, name)).toBe(want);
  });

  it.skipIf(!existsSync(main) || !existsSync(addon))('times only the listed contenders and no comparators', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-impl-'));
    try {
      const out = join(dir, 'rows.json');
      const r = spawnSync(process.execPath, [main, '--kernels', 'rle,label', '--sizes', '64', '--quick', '--impl', 'native-1t', '--out', out], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/python comparators: not installed/);
      const result = JSON.parse(readFileSync(out, 'utf8'));
      const rows = result.rows as { kernel: string; impl: string; vsTs: number | null }[];
      expect(rows.map((row) => `${row.kernel} ${row.impl}`)).toEqual(['rle native-1t', 'label native-1t']);
      expect(rows.every((row) => row.vsTs === null)).toBe(true); // no TS row to compare with
      // the entry gives libuv's pool the 16 threads of the batch rows, and keeps a size that is set
      expect(result.threadPool).toBe(16);
      const env = { ...process.env, UV_THREADPOOL_SIZE: '3' };
      const set = spawnSync(process.execPath, [main, '--kernels', 'rle', '--sizes', '64', '--quick', '--impl', 'native-1t', '--out', out], { encoding: 'utf8', env });
      expect(set.status, set.stderr).toBe(0);
      expect(JSON.parse(readFileSync(out, 'utf8')).threadPool).toBe(3);
      expect(set.stdout).toMatch(/libuv pool 3$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench --kernels segment', () => {
  it.skipIf(!existsSync(main))('times segmentFolder per image (heap and fifo ties with the maps inline, and the default) and the maps alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-segment-'));
    try {
      const out = join(dir, 'rows.json');
      const r = spawnSync(process.execPath, [main, '--kernels', 'segment', '--sizes', '512', '--quick', '--out', out], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const rows = JSON.parse(readFileSync(out, 'utf8')).rows as { kernel: string; impl: string; size: number; medianMs: number }[];
      expect(rows.map((row) => `${row.kernel} ${row.size} ${row.impl}`)).toEqual([
        'segment 512 heap ties, maps inline', 'segment 512 fifo ties, maps inline', 'segment 512 default (auto = fifo, maps off the main thread)',
        'model-free maps 512 ts', ...(capabilities().native ? ['model-free maps 512 native-1t', 'model-free maps 512 native-Nt'] : []),
      ]);
      for (const row of rows) expect(row.medianMs).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
