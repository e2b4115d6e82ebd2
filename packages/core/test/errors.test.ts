// Error plumbing: the sentence shape, codes, and native rejections re-thrown on the caller's stack.
import { describe, expect, it } from 'vitest';
import { CellcamError, describe as describeValue, nativeError, rangeError, typeError } from '../src/errors.js';
import { resolveBackend, checkDevice } from '../src/native.js';

describe('argument errors', () => {
  it.each([
    [new Float32Array(3), 'Float32Array of length 3'],
    [null, 'null'],
    [undefined, 'undefined'],
    [7, 'number 7'],
    ['abc', "string 'abc'"],
    [[1, 2], 'Array of length 2'],
  ])('describes %o as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });

  it('builds TypeError/RangeError with code and sentence', () => {
    const t = typeError('markers', 'Int32Array', new Float32Array(2));
    expect(t).toBeInstanceOf(TypeError);
    expect(t.code).toBe('CELLCAM_E_DTYPE');
    expect(t.message).toBe('Expected Int32Array for markers but received Float32Array of length 2');
    const r = rangeError('options.connectivity', '4 or 8', 6);
    expect(r).toBeInstanceOf(RangeError);
    expect(r.code).toBe('CELLCAM_E_RANGE');
  });
});

describe('nativeError', () => {
  function callSite(): Error {
    return new Error('capture');
  }
  it.each([
    [Object.assign(new RangeError('label 9 > cells'), { code: 'CELLCAM_E_RANGE' }), RangeError, 'CELLCAM_E_RANGE'],
    [Object.assign(new TypeError('bad dtype'), { code: 'CELLCAM_E_DTYPE' }), TypeError, 'CELLCAM_E_DTYPE'],
    [Object.assign(new Error('cudaErrorMemoryAllocation'), { code: 'CELLCAM_E_CUDA' }), CellcamError, 'CELLCAM_E_CUDA'],
    [new Error('no code'), CellcamError, 'CELLCAM_E_INTERNAL'],
  ])('keeps message, constructor and code of %s on the JS stack', (err, ctor, code) => {
    const stack = callSite();
    const out = nativeError(err, stack) as Error & { code: string };
    expect(out).toBeInstanceOf(ctor);
    expect(out.code).toBe(code);
    expect(out.message).toBe(err.message);
    expect(out.stack).toContain('callSite');
  });
});

describe('backend and device options', () => {
  it('rejects unknown values naming the option', () => {
    expect(() => resolveBackend('gpu' as never)).toThrow(/Expected 'auto', 'native' or 'js' for options.backend but received string 'gpu'/);
    expect(() => checkDevice('tpu' as never)).toThrow(/options.device/);
  });
  it("'js' never returns the addon", () => {
    expect(resolveBackend('js')).toBeNull();
  });
});
