/** Argument checks shared by the kernels: integers, image sizes and typed-array dtypes/lengths. */
import { rangeError, typeError } from '../errors.js';

export type TypedArrayCtor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Uint32ArrayConstructor;

/** Checks a positive (or non-negative) safe integer. */
export function checkInt(name: string, v: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(name, 'an integer', v);
  if (v < min || v > max) throw rangeError(name, `an integer in [${min}, ${max}]`, v);
  return v;
}

/** Checks a finite number in [min, max]. */
export function checkNumber(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw typeError(name, 'a number', v);
  if (!(v >= min && v <= max)) throw rangeError(name, `a number in [${min}, ${max}]`, v);
  return v;
}

/** Checks image width/height (1..65536 each, and at most 2^30 pixels). */
export function checkSize(width: unknown, height: unknown, prefix = 'options'): { width: number; height: number } {
  const w = checkInt(`${prefix}.width`, width, 1, 65536);
  const h = checkInt(`${prefix}.height`, height, 1, 65536);
  if (w * h > 2 ** 30) throw rangeError(`${prefix}.width*height`, 'at most 2^30 pixels', w * h, 'CELLCAM_E_SHAPE');
  return { width: w, height: h };
}

/** Checks that `a` is one of `ctors` and has exactly `length` elements. */
export function checkArray<T extends ArrayBufferView>(
  name: string,
  a: unknown,
  ctors: readonly TypedArrayCtor[],
  length: number,
  lengthDesc?: string,
): T {
  const names = ctors.map((c) => c.name).join(' or ');
  if (!ArrayBuffer.isView(a) || !ctors.some((c) => a instanceof c)) throw typeError(name, names, a);
  const len = (a as unknown as { length: number }).length;
  if (len !== length) {
    throw rangeError(name, `${names} of length ${lengthDesc ? `${lengthDesc} = ` : ''}${length}`, a, 'CELLCAM_E_SHAPE');
  }
  return a as unknown as T;
}

/** Checks connectivity 4 or 8. */
export function checkConnectivity(name: string, v: unknown, fallback: 4 | 8): 4 | 8 {
  if (v === undefined) return fallback;
  if (v !== 4 && v !== 8) throw rangeError(name, '4 or 8', v);
  return v;
}

/** Checks an optional boolean. */
export function checkBool(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw typeError(name, 'a boolean', v);
  return v;
}

/** True when two views share at least one byte of the same buffer (an output that aliases an input). */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
