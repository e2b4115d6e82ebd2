// The addon loader: actionable errors (paths tried, build command, CUDA-off hint), the stale-binary
// check, and capabilities() reporting the CPU fallback with its reason.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { capabilities, cudaCopyBandwidth } from '@cellcam/core';

const nativeDir = resolve(__dirname, '..', 'packages', 'native');
const builtBinary = join(nativeDir, 'build', 'Release', 'cellcam_native.node');

function loadIn(dir: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['-e', `try { const b = require(${JSON.stringify(join(dir, 'index.cjs'))}); console.log(JSON.stringify(b.capabilities())); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`], {
    encoding: 'utf8',
    env: { ...process.env, CELLCAM_NATIVE_PATH: '', ...env },
  });
}

function fakePackage(version: string, withBinary: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-loader-'));
  copyFileSync(join(nativeDir, 'index.cjs'), join(dir, 'index.cjs'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@cellcam/native', version }));
  if (withBinary) {
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    symlinkSync(builtBinary, join(dir, 'build', 'Release', 'cellcam_native.node'));
  }
  return dir;
}

describe('native loader', () => {
  it('explains which paths were tried and how to build when no binary exists', () => {
    const dir = fakePackage('0.1.0', false);
    try {
      const out = JSON.parse(loadIn(dir).stdout.trim());
      expect(out.code).toBe('CELLCAM_E_NATIVE_LOAD');
      expect(out.message).toContain(join(dir, 'build', 'Release', 'cellcam_native.node'));
      expect(out.message).toContain('not found');
      expect(out.message).toContain('npm run build -w @cellcam/native');
      expect(out.message).toContain('CELLCAM_WITH_CUDA=OFF');
      expect(out.message).toContain('backend: "js"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(builtBinary))('rejects a stale binary whose version differs from package.json', () => {
    const dir = fakePackage('9.9.9', true);
    try {
      const out = JSON.parse(loadIn(dir).stdout.trim());
      expect(out.code).toBe('CELLCAM_E_NATIVE_LOAD');
      expect(out.message).toMatch(/stale binary \(built from @cellcam\/native 0\.1\.0, package is 9\.9\.9\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(builtBinary))('honours CELLCAM_NATIVE_PATH', () => {
    const dir = fakePackage('0.1.0', false);
    try {
      const out = JSON.parse(loadIn(dir, { CELLCAM_NATIVE_PATH: builtBinary }).stdout.trim());
      expect(out.version).toBe('0.1.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('capabilities()', () => {
  const caps = capabilities();
  it('reports the native build and a reason whenever no CUDA device is used', () => {
    expect(typeof caps.native).toBe('boolean');
    expect(caps.threads).toBeGreaterThanOrEqual(1);
    if (caps.cudaDevices === 0) expect(caps.reason.length).toBeGreaterThan(0);
    else expect(caps.deviceNames.length).toBe(caps.cudaDevices);
    expect(caps.deviceMemory.length).toBe(caps.cudaDevices);
    for (const bytes of caps.deviceMemory) expect(bytes).toBeGreaterThan(2 ** 30);
  });
  it.skipIf(!caps.native)('matches the CMake decision: CUDA compiled in exactly when nvcc was found', () => {
    const nvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).status === 0;
    if (process.env.CELLCAM_WITH_CUDA?.toUpperCase() === 'OFF') expect(caps.compiledWithCuda).toBe(false);
    else expect(caps.compiledWithCuda).toBe(nvcc);
    if (!caps.compiledWithCuda) expect(caps.reason).toMatch(/built without CUDA/);
  });
});

describe('cudaCopyBandwidth()', () => {
  const caps = capabilities();
  it.each([
    [{ bytes: 0 }, /options\.bytes/],
    [{ bytes: 1.5 }, /options\.bytes/],
    [{ reps: 0 }, /options\.reps/],
    [{ reps: 1001 }, /options\.reps/],
  ])('rejects %j and names the option', async (options, message) => {
    await expect(cudaCopyBandwidth(options)).rejects.toThrow(message);
  });
  it.skipIf(caps.cudaDevices > 0)('rejects with CELLCAM_E_CUDA and the reason without a usable device', async () => {
    const err = await cudaCopyBandwidth({ bytes: 1024, reps: 1 }).then(() => null, (e: Error & { code?: string }) => e);
    expect(err?.code).toBe('CELLCAM_E_CUDA');
    expect(err?.message).toContain(caps.native ? caps.reason : 'not loaded');
  });
  it.skipIf(caps.cudaDevices === 0)('measures the device: more than 100 GB/s read + write on any card CUDA 13 runs', async () => {
    const r = await cudaCopyBandwidth({ bytes: 64 * 2 ** 20, reps: 4 });
    expect(r.bytes).toBe(64 * 2 ** 20);
    expect(r.reps).toBe(4);
    expect(r.device).toBe(caps.deviceNames[0]);
    expect(r.bytesPerSecond).toBeGreaterThan(1e11);
  });
});
