/**
 * Environment report for `cellcam doctor`: the native build, CUDA, onnxruntime-node and sharp.
 * Every probe is isolated so one broken component still lets the others report.
 */
import { createRequire } from 'node:module';
import { capabilities } from './native.js';
import { VERSION } from './version.js';

export interface DoctorReport {
  cellcam: string;
  node: string;
  platform: string;
  /**
   * libuv's thread pool, which the native kernels, sharp's decodes and file I/O share: the size it
   * was given (UV_THREADPOOL_SIZE, else libuv's 4). The `cellcam` command sets it to the cores.
   */
  threadPool: number;
  native: ReturnType<typeof capabilities>;
  onnxruntime: { ok: boolean; version: string | null; backends: { name: string; bundled: boolean }[]; error: string | null };
  sharp: { ok: boolean; version: string | null; vips: string | null; inputFormats: string[]; error: string | null };
}

/**
 * Probes the native addon, CUDA, onnxruntime-node and sharp.
 *
 * @example
 * ```ts
 * import { doctor } from '@cellcam/core';
 * const r = await doctor();
 * console.log(r.native.compiledWithCuda, r.native.cudaDevices, r.native.reason);
 * ```
 */
export async function doctor(): Promise<DoctorReport> {
  const require = createRequire(import.meta.url);
  const report: DoctorReport = {
    cellcam: VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    threadPool: Math.min(1024, Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4)),
    native: capabilities(),
    onnxruntime: { ok: false, version: null, backends: [], error: null },
    sharp: { ok: false, version: null, vips: null, inputFormats: [], error: null },
  };
  try {
    const ort = require('onnxruntime-node') as { listSupportedBackends(): { name: string; bundled: boolean }[]; env: { versions?: { common?: string } } };
    report.onnxruntime = {
      ok: true,
      version: (require('onnxruntime-node/package.json') as { version: string }).version,
      backends: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
      error: null,
    };
  } catch (err) {
    report.onnxruntime.error = (err as Error).message.split('\n')[0];
  }
  try {
    const sharp = require('sharp') as { versions: Record<string, string>; format: Record<string, { input: { file: boolean } }> };
    report.sharp = {
      ok: true,
      version: sharp.versions.sharp ?? null,
      vips: sharp.versions.vips ?? null,
      inputFormats: Object.entries(sharp.format).filter(([, f]) => f.input.file).map(([k]) => k),
      error: null,
    };
  } catch (err) {
    report.sharp.error = (err as Error).message.split('\n')[0];
  }
  return report;
}
