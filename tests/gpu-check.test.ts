// The dependency-free CUDA-vs-CPU script (packages/native/test/gpu-check.mjs) that a GPU machine
// runs with only Node and the addon carried: here (no device) it must say so and pass CPU vs CPU,
// so that it cannot rot between the sessions that have a GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const script = join(root, 'packages', 'native', 'test', 'gpu-check.mjs');
const addon = join(root, 'packages', 'native', 'build', 'Release', 'cellcam_native.node');

describe.skipIf(!existsSync(addon))('gpu-check.mjs', () => {
  it('compares every kernel case and writes its rows (CPU vs CPU without a device)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-gpu-check-'));
    try {
      const json = join(dir, 'rows.json');
      const r = spawnSync(process.execPath, [script, '--small', '--json', json], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^addon .*cellcam_native\.node: compiled with CUDA (true|false), devices \d+/m);
      expect(r.stdout).toMatch(/^79 equal, 0 different or failed \(cpu vs (cpu|cuda)\)$/m);
      const out = JSON.parse(readFileSync(json, 'utf8'));
      expect(out.rows).toHaveLength(79);
      expect(out.batches).toEqual([]); // --small skips the batches of 16
      expect(out.rows.every((row: { equal?: boolean }) => row.equal === true)).toBe(true);
      expect(new Set(out.rows.map((row: { case: string }) => row.case.split(' ')[0]))).toEqual(new Set(['label', 'rle', 'watershed', 'labelCell', 'pool', 'pool:', 'rejects']));
      // bad input is rejected by both devices with the same code and message
      expect(out.rows.filter((row: { case: string }) => row.case.startsWith('rejects ')).map((row: { cpu: string }) => row.cpu.split(':')[0])).toEqual(Array(4).fill('CELLCAM_E_RANGE'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--only keeps the cases whose name matches (for compute-sanitizer runs of a few kernels)', () => {
    const r = spawnSync(process.execPath, [script, '--small', '--only', 'labelCell|rejects rle'], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const cases = r.stdout.split('\n').filter((l) => /^(equal|DIFFER|ERROR) /.test(l)).map((l) => l.slice(8).trim().split(/\s{2,}/)[0]);
    expect(cases).toEqual([
      'labelCell fifo scale 1 37x53', 'labelCell fifo scale 0.25 37x53', 'labelCell fifo scale 1 256x256', 'labelCell fifo scale 0.25 256x256',
      'rejects rle: id > cells',
    ]);
    expect(r.stdout).toMatch(/^5 equal, 0 different or failed/m);
  });
});

// The shell scripts of a device call cannot be run here (no GPU, and packing takes minutes), but
// they must parse, and gpu-verify.sh with no step must pack its logs when asked.
describe('gpu-verify.sh / gpu-pack.sh', () => {
  const dir = join(root, 'packages', 'native', 'test');
  it.each(['gpu-verify.sh', 'gpu-pack.sh', 'gpu-e2e.sh'])('%s parses (bash -n)', (f) => {
    const r = spawnSync('bash', ['-n', join(dir, f)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
  it('PACK_OUT=1 leaves one tarball (and run.log) in $OUT', () => {
    // Run from an empty folder: a checkout with a packed .gpu/ would be unpacked into otherwise.
    const out = mkdtempSync(join(tmpdir(), 'cellcam-gpu-verify-')), cwd = mkdtempSync(join(tmpdir(), 'cellcam-gpu-cwd-'));
    try {
      const r = spawnSync('bash', [join(dir, 'gpu-verify.sh')], {
        cwd, encoding: 'utf8', env: { ...process.env, OUT: out, GPU_STEPS: 'none', PACK_OUT: '1' },
      });
      expect(r.stdout).toMatch(/^gpu-verify:$/m);
      expect(readdirSync(out)).toEqual(['gpu-out.tgz']);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
