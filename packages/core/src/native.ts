/**
 * Access to the optional native addon and the backend choice shared by every kernel.
 *
 * Kernels take `backend: 'auto' | 'native' | 'js'`. 'auto' uses the addon when it loads and the
 * TypeScript twin otherwise; 'native' fails with the loader's explanation when it does not.
 */
import { createRequire } from 'node:module';
import type * as NativeBinding from '@cellcam/native';
import { CellcamError, nativeError, rangeError, typeError } from './errors.js';
import { checkInt } from './util/validate.js';

export type Native = typeof NativeBinding & { path?: string };
export type Backend = 'auto' | 'native' | 'js';
export type Device = 'auto' | 'cpu' | 'cuda';

/**
 * Where a CUDA kernel call's wall-clock time went, in ms (`timings` on label, pool and RLE results
 * that ran on CUDA): host work around it, copies to and from the device, and device work.
 */
export type CudaTimings = NativeBinding.CudaTimings;

let cached: { native: Native | null; error: Error | null } | null = null;

function loadOnce(): { native: Native | null; error: Error | null } {
  if (cached) return cached;
  if (process.env.CELLCAM_DISABLE_NATIVE === '1') {
    cached = { native: null, error: new CellcamError('CELLCAM_E_NATIVE_LOAD', 'native addon disabled by CELLCAM_DISABLE_NATIVE=1') };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    cached = { native: require('@cellcam/native') as Native, error: null };
  } catch (err) {
    const e = err as Error & { code?: string };
    cached = { native: null, error: new CellcamError('CELLCAM_E_NATIVE_LOAD', e.message, { cause: err }) };
  }
  return cached;
}

/** The addon, or null when it is not built/loadable. */
export function nativeOrNull(): Native | null {
  return loadOnce().native;
}

/** Why the addon could not be loaded (null when it loaded). */
export function nativeLoadError(): Error | null {
  return loadOnce().error;
}

/** Validates `backend` and returns the addon to use, or null for the TypeScript twin. */
export function resolveBackend(backend: Backend | undefined, name = 'options.backend'): Native | null {
  const b = backend ?? 'auto';
  if (b !== 'auto' && b !== 'native' && b !== 'js') throw rangeError(name, "'auto', 'native' or 'js'", b, 'CELLCAM_E_ARG');
  if (b === 'js') return null;
  const { native, error } = loadOnce();
  if (!native && b === 'native') throw error!;
  return native;
}

/** Validates a device choice. */
export function checkDevice(device: Device | undefined, name = 'options.device'): Device {
  const d = device ?? 'auto';
  if (d !== 'auto' && d !== 'cpu' && d !== 'cuda') throw rangeError(name, "'auto', 'cpu' or 'cuda'", d, 'CELLCAM_E_ARG');
  return d;
}

/**
 * Build and run-time capabilities; `native: false` when the addon is missing. `scratch` is the
 * native kernels' cache of image-sized temporaries: bytes kept idle for the next call now, and the
 * most it keeps (`CELLCAM_SCRATCH_MB`, default 512 MiB; 0 keeps none).
 */
export function capabilities(): {
  native: boolean;
  nativePath: string | null;
  nativeError: string | null;
  compiledWithCuda: boolean;
  cudaDevices: number;
  reason: string;
  threads: number;
  deviceNames: string[];
  deviceMemory: number[];
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  scratch: { idleBytes: number; limitBytes: number };
} {
  const { native, error } = loadOnce();
  if (!native) {
    return {
      native: false, nativePath: null, nativeError: error?.message ?? null, compiledWithCuda: false, cudaDevices: 0,
      reason: 'native addon not loaded', threads: 1, deviceNames: [], deviceMemory: [], cudaRuntimeVersion: 0, cudaDriverVersion: 0,
      scratch: { idleBytes: 0, limitBytes: 0 },
    };
  }
  const c = native.capabilities();
  return { native: true, nativePath: native.path ?? null, nativeError: null, ...c };
}

/**
 * The CUDA device's memory bandwidth, as a device-to-device copy reaches it (each byte read and
 * written counts): the floor under a kernel that must read and write B bytes is B / bytesPerSecond
 * (`npm run bench` puts it in the CUDA rows' notes). Rejects with CELLCAM_E_CUDA and the reason
 * when no device is usable or the addon is not loaded.
 *
 * @example
 * ```ts
 * const { bytesPerSecond, device } = await cudaCopyBandwidth();
 * console.log(`${device}: ${(bytesPerSecond / 1e9).toFixed(0)} GB/s`); // NVIDIA H100 80GB HBM3: ~2 900 GB/s
 * ```
 */
export async function cudaCopyBandwidth(options: { bytes?: number; reps?: number } = {}): Promise<{ bytesPerSecond: number; bytes: number; reps: number; device: string }> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const bytes = checkInt('options.bytes', options.bytes ?? 256 * 2 ** 20, 1, 2 ** 34);
  const reps = checkInt('options.reps', options.reps ?? 10, 1, 1000);
  const { native, error } = loadOnce();
  if (!native) throw new CellcamError('CELLCAM_E_CUDA', `cudaCopyBandwidth: the native addon is not loaded (${error?.message.split('\n')[0] ?? 'unknown'})`);
  const stack = new Error();
  try {
    return await native.cudaCopyBandwidth({ bytes, reps });
  } catch (err) {
    throw nativeError(err, stack);
  }
}

/**
 * Runs a native kernel call on `run` ('cpu' or 'cuda'). Under `device: 'auto'` a CUDA failure
 * (CELLCAM_E_CUDA) reruns it on the CPU, which gives the same output, and `fallback` says why.
 * Errors are re-thrown on the caller's `stack`.
 */
export async function runWithCpuFallback<R>(
  device: Device, run: 'cpu' | 'cuda', call: (d: 'cpu' | 'cuda') => Promise<R>, stack: Error,
): Promise<{ result: R; ran: 'cpu' | 'cuda'; fallback?: string }> {
  try {
    return { result: await call(run), ran: run };
  } catch (err) {
    if (device !== 'auto' || run !== 'cuda' || (err as { code?: string } | null)?.code !== 'CELLCAM_E_CUDA') throw nativeError(err, stack);
    try {
      return { result: await call('cpu'), ran: 'cpu', fallback: `CUDA failed, used the CPU: ${(err as Error).message}` };
    } catch (err2) {
      throw nativeError(err2, stack);
    }
  }
}

/**
 * Where a kernel with a CUDA path (poolCells, label, cellRle) runs: 'cuda' rejects with CELLCAM_E_CUDA
 * and the reason when no device is usable; 'auto' falls back to the CPU (or the twin) with a note.
 */
export function pickDevice(
  device: Device, hasNativeBackend: boolean, backend: Backend | undefined, name = 'options.device',
): { run: 'cpu' | 'cuda' | 'js'; note?: string } {
  if (device === 'cuda') {
    if (!hasNativeBackend) {
      const why = backend === 'js' ? "options.backend is 'js'" : `the native addon is not loaded (${nativeLoadError()?.message.split('\n')[0] ?? 'unknown'})`;
      throw new CellcamError('CELLCAM_E_CUDA', `${name} is 'cuda' but ${why}`);
    }
    const caps = capabilities();
    if (caps.cudaDevices === 0) throw new CellcamError('CELLCAM_E_CUDA', `${name} is 'cuda' but no CUDA device is usable: ${caps.reason}`);
    return { run: 'cuda' };
  }
  if (device === 'auto') {
    const caps = hasNativeBackend ? capabilities() : null;
    if (caps && caps.cudaDevices > 0) return { run: 'cuda' };
    return { run: hasNativeBackend ? 'cpu' : 'js', note: `CUDA not used: ${caps ? caps.reason : 'the native addon is not in use'}` };
  }
  return { run: hasNativeBackend ? 'cpu' : 'js' };
}
