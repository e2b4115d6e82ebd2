// `cellcam doctor` end to end through the built CLI.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const runEnv = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
const nativeBuilt = /^native addon: ok/m.test(run('doctor').stdout);
// The installed command (package.json "bin"): a CommonJS entry that sizes libuv's pool first.
const bin = resolve(__dirname, '..', 'packages', 'cli', 'bin', 'cellcam.cjs');

describe.skipIf(!existsSync(cli))('cellcam doctor', () => {
  it.each([
    ['text', [] as string[]],
    ['json', ['--json']],
  ])('prints native, CUDA, onnxruntime and sharp status (%s)', (kind, extra) => {
    const r = run('doctor', ...extra);
    expect(r.status).toBe(0);
    if (kind === 'json') {
      const j = JSON.parse(r.stdout);
      expect(j.native).toHaveProperty('compiledWithCuda');
      expect(j.native).toHaveProperty('cudaDevices');
      expect(j.onnxruntime.ok).toBe(true);
      expect(j.onnxruntime.backends.map((b: { name: string }) => b.name)).toContain('cpu');
      expect(j.sharp.ok).toBe(true);
      expect(j.sharp.inputFormats).toEqual(expect.arrayContaining(['png', 'jpeg', 'tiff']));
    } else {
      expect(r.stdout).toMatch(/^native addon: /m);
      expect(r.stdout).toMatch(/^CUDA: /m);
      expect(r.stdout).toMatch(/^onnxruntime-node: /m);
      expect(r.stdout).toMatch(/^sharp: /m);
    }
  });

  it.skipIf(!nativeBuilt).each([
    { value: '64', limit: '64 MiB', warns: false },
    { value: '0', limit: '0 MiB', warns: false },
    { value: '1.5G', limit: '512 MiB', warns: true },
  ])('reports the scratch limit for CELLCAM_SCRATCH_MB=$value (warning: $warns)', ({ value, limit, warns }) => {
    const r = runEnv({ CELLCAM_SCRATCH_MB: value }, 'doctor');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`keeps up to ${limit} of scratch`);
    expect(/^warning: CELLCAM_SCRATCH_MB is '1\.5G', not a whole number of MiB/m.test(r.stdout)).toBe(warns);
  });

  it('rejects an unknown command with a non-zero exit and a hint', () => {
    const r = run('doctr');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'doctr'/);
  });

  it.each([
    { name: 'unset: the cores, at least 4', env: undefined, want: Math.min(1024, Math.max(4, availableParallelism())) },
    { name: 'set: kept', env: '7', want: 7 },
  ])('the cellcam command sizes libuv\'s thread pool before it starts ($name)', ({ env, want }) => {
    const { UV_THREADPOOL_SIZE: _, ...rest } = process.env;
    const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], { encoding: 'utf8', env: { ...rest, ...(env ? { UV_THREADPOOL_SIZE: env } : {}) } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).threadPool).toBe(want);
    // The ES module entry alone leaves the variable to its caller: libuv's own 4 when it is unset.
    const direct = spawnSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8', env: rest });
    expect(JSON.parse(direct.stdout).threadPool).toBe(4);
  });
});
