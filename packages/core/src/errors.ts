/**
 * Error types and helpers shared by every core function.
 *
 * Argument errors are thrown synchronously as TypeError/RangeError with one sentence shape:
 * "Expected <what> for <name> but received <actual>". Every error carries a stable `code`.
 */

/** Stable error codes. */
export type CellcamErrorCode =
  | 'CELLCAM_E_DTYPE'
  | 'CELLCAM_E_SHAPE'
  | 'CELLCAM_E_RANGE'
  | 'CELLCAM_E_ARG'
  | 'CELLCAM_E_IO'
  | 'CELLCAM_E_FORMAT'
  | 'CELLCAM_E_CUDA'
  | 'CELLCAM_E_MODEL'
  | 'CELLCAM_E_NATIVE_LOAD'
  | 'CELLCAM_E_NOMEM'
  | 'CELLCAM_E_TRAINER'
  | 'CELLCAM_E_CONFIG'
  | 'CELLCAM_E_BUSY'
  | 'CELLCAM_E_INTERNAL';

/** An error raised by cellcam outside argument checking (I/O, native failures, CUDA, models). */
export class CellcamError extends Error {
  readonly code: CellcamErrorCode;
  constructor(code: CellcamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CellcamError';
    this.code = code;
  }
}

type Coded<E> = E & { code: CellcamErrorCode };

function withCode<E extends Error>(err: E, code: CellcamErrorCode): Coded<E> {
  Object.defineProperty(err, 'code', { value: code, enumerable: true });
  return err as Coded<E>;
}

/** Describes a value for an error message: its type and, for arrays, its length. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'TypedArray';
    return 'length' in value ? `${name} of length ${(value as unknown as { length: number }).length}` : name;
  }
  if (Array.isArray(value)) return `Array of length ${value.length}`;
  if (typeof value === 'number') return `number ${value}`;
  if (typeof value === 'string') return `string '${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  return typeof value;
}

/** TypeError for a wrong type or dtype. */
export function typeError(name: string, expected: string, actual: unknown): Coded<TypeError> {
  return withCode(new TypeError(`Expected ${expected} for ${name} but received ${describe(actual)}`), 'CELLCAM_E_DTYPE');
}

/** RangeError for a value or shape out of range. */
export function rangeError(name: string, expected: string, actual: unknown, code: CellcamErrorCode = 'CELLCAM_E_RANGE'): Coded<RangeError> {
  return withCode(new RangeError(`Expected ${expected} for ${name} but received ${describe(actual)}`), code);
}

/**
 * Re-raises a native rejection on the caller's stack (captured before the native call), keeping
 * the native message and `code`, with the right constructor.
 */
export function nativeError(err: unknown, stack: Error): Error {
  const e = err as { message?: string; code?: string; name?: string } | undefined;
  const message = e?.message ?? String(err);
  const code = (e?.code ?? 'CELLCAM_E_INTERNAL') as CellcamErrorCode;
  let out: Error;
  if (err instanceof RangeError) out = withCode(new RangeError(message), code);
  else if (err instanceof TypeError) out = withCode(new TypeError(message), code);
  else out = new CellcamError(code, message, { cause: err });
  out.stack = `${out.name}: ${message}\n${(stack.stack ?? '').split('\n').slice(1).join('\n')}`;
  return out;
}
