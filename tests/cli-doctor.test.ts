// `cellcam doctor` end to end through the built CLI.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

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

  it('rejects an unknown command with a non-zero exit and a hint', () => {
    const r = run('doctr');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'doctr'/);
  });
});
