/**
 * Image resampling used by the HPA U-Net contract, written to match the reference tools:
 * skimage 0.19 `rescale` (Gaussian anti-aliasing + `ndi.zoom(order=1, grid_mode=True)`),
 * OpenCV `copyMakeBorder(BORDER_REFLECT)` and OpenCV `resize(INTER_AREA)` for enlargement.
 *
 * Exactness (checked against the Python tools in test/unet.test.ts):
 * - rescale: same float64 operations in the same order as scipy 1.10 (kernel weights with a
 *   correctly rounded exp, numpy's pairwise kernel sum, symmetric correlate1d, spline weights,
 *   clip) — bit-exact against this machine's numpy in tests. numpy's exp is libm's or its own
 *   SIMD code depending on the CPU; where that is not correctly rounded a kernel weight can
 *   differ by one ulp (σ = 1.5, the HPA ×0.25 case, matched with plain Math.exp as well).
 * - padReflect: index mapping only, exact.
 * - resizeArea: an integer enlargement factor is pixel replication and exact (every HPA size
 *   at scale 0.25). Non-integer enlargement follows OpenCV's area-mode linear coefficients;
 *   float32 output matches the scalar code path, uint8 uses OpenCV's SIMD fixed-point rounding
 *   but may still differ by 1 level on some pixels. Shrinking is supported for integer factors
 *   only (block mean); non-integer shrinking throws.
 */
import { rangeError, typeError } from '../errors.js';
import { checkInt, checkSize } from '../util/validate.js';

/** Python/numpy `round` (ties to even), for shape arithmetic and `np.rint`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds ties up; move ties that landed on an odd integer back down.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `img_as_float`: uint8 → x·(1/255), uint16 → x·(1/65535), in float64 (skimage multiplies by the reciprocal). */
export function imgAsFloat(data: Uint8Array | Uint16Array): Float64Array {
  if (!(data instanceof Uint8Array) && !(data instanceof Uint16Array)) throw typeError('data', 'Uint8Array or Uint16Array', data);
  const k = 1 / (data instanceof Uint8Array ? 255 : 65535);
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * k;
  return out;
}

/** `img_as_ubyte` of one float32 value: rint(float32(x·255)) clipped to [0, 255]. */
export function floatToUbyte(x: number): number {
  const v = roundHalfEven(Math.fround(x * 255));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Output size of skimage `rescale(img, scale)`: max(round(scale·n), 1) per axis (ties to even). */
export function rescaledSize(width: number, height: number, scale: number): { width: number; height: number } {
  return { width: Math.max(roundHalfEven(scale * width), 1), height: Math.max(roundHalfEven(scale * height), 1) };
}

// numpy's pairwise sum for a short contiguous float64 array (8 partial sums, then the tail).
function numpySum(a: Float64Array): number {
  const n = a.length;
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i];
    return s;
  }
  if (n > 128) throw new RangeError('numpySum: kernels longer than 128 taps are not needed here');
  const r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
  let i = 8;
  for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[i + j];
  let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
  for (; i < n; i++) res += a[i];
  return res;
}

const FIX = 192n; // fraction bits of the fixed-point exp below
let ln2Fixed = 0n;

// A double as an exact fixed-point BigInt (value·2^FIX, truncated below 2^-FIX).
function toFixed(a: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0), lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e = -1074;
  if (biased !== 0) {
    m |= 1n << 52n;
    e = biased - 1075;
  }
  const shift = BigInt(e) + FIX;
  const v = shift >= 0n ? m << shift : m >> -shift;
  return hi >>> 31 ? -v : v;
}

/**
 * exp(a) correctly rounded (up to ties closer than 2^-150), for moderate a. V8's Math.exp is
 * fdlibm and is off by one ulp on some Gaussian-kernel arguments where numpy/glibc are not.
 */
export function expCorrectlyRounded(a: number): number {
  if (a === 0) return 1;
  if (!(Math.abs(a) < 700)) return Math.exp(a);
  if (ln2Fixed === 0n) {
    // ln 2 = Σ 1/(k·2^k), to FIX + 16 bits, then rounded to FIX bits.
    const g = FIX + 16n;
    let s = 0n;
    for (let k = 1n; k <= g + 8n; k++) s += (1n << g) / (k << k);
    ln2Fixed = s >> 16n;
  }
  const n = Math.round(a / Math.LN2);
  const r = toFixed(a) - BigInt(n) * ln2Fixed;
  let term = 1n << FIX;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term = ((term * r) >> FIX) / k;
    sum += term;
  }
  // Number(bigint) rounds to nearest-even; the power-of-two scale is exact for these magnitudes.
  return Number(sum) * 2 ** (n - Number(FIX));
}

/** scipy `_gaussian_kernel1d(sigma, 0, radius)` with radius = int(truncate·σ + 0.5). */
export function gaussianKernel(sigma: number, truncate = 4): Float64Array {
  const radius = Math.trunc(truncate * sigma + 0.5);
  const w = new Float64Array(2 * radius + 1);
  const k = -0.5 / (sigma * sigma);
  for (let x = -radius; x <= radius; x++) w[x + radius] = expCorrectlyRounded(k * (x * x));
  const s = numpySum(w);
  for (let i = 0; i < w.length; i++) w[i] = w[i] / s;
  return w;
}

/** scipy 'mirror' (reflect-101) index for any integer p. */
function mirror(p: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  let q = p % period;
  if (q < 0) q += period;
  return q >= n ? period - q : q;
}

interface ZoomAxis {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
}

// ndi.zoom(order=1, mode='mirror', grid_mode=True) coordinates and spline weights for one axis.
function zoomAxis(inLen: number, outLen: number): ZoomAxis {
  const zoom = outLen !== 0 ? inLen / outLen : 1;
  const ax: ZoomAxis = { i0: new Int32Array(outLen), i1: new Int32Array(outLen), w0: new Float64Array(outLen), w1: new Float64Array(outLen) };
  for (let k = 0; k < outLen; k++) {
    let cc = (k + 0.5) * zoom - 0.5;
    // map_coordinate, NI_EXTEND_MIRROR
    if (cc < 0) {
      if (inLen <= 1) cc = 0;
      else {
        const sz2 = 2 * inLen - 2;
        cc = sz2 * Math.trunc(-cc / sz2) + cc;
        cc = cc <= 1 - inLen ? cc + sz2 : -cc;
      }
    } else if (cc > inLen - 1) {
      if (inLen <= 1) cc = 0;
      else {
        const sz2 = 2 * inLen - 2;
        cc -= sz2 * Math.trunc(cc / sz2);
        if (cc >= inLen) cc = sz2 - cc;
      }
    }
    const start = Math.floor(cc);
    const t = cc - Math.floor(cc);
    const w0 = 1.0 - t;
    ax.i0[k] = mirror(start, inLen);
    ax.i1[k] = mirror(start + 1, inLen);
    ax.w0[k] = w0;
    ax.w1[k] = 1.0 - w0;
  }
  return ax;
}

/**
 * One plane of skimage 0.19 `rescale`/`resize` (order 1, mode 'reflect', anti-aliasing when
 * shrinking), without the final clip: Gaussian (σ = max(0, (in/out − 1)/2), truncate 4,
 * 'mirror') along rows then columns, then bilinear `ndi.zoom(grid_mode=True)`. Only the rows and
 * columns the zoom reads are filtered. A uint8/uint16 plane is read as its `img_as_float` values
 * (x·(1/255), x·(1/65535)) without materialising the float64 copy.
 */
export function rescalePlane(plane: Float64Array | Uint8Array | Uint16Array, width: number, height: number, outWidth: number, outHeight: number): Float64Array {
  checkSize(width, height, 'rescalePlane');
  checkSize(outWidth, outHeight, 'rescalePlane.out');
  if (!(plane instanceof Float64Array || plane instanceof Uint8Array || plane instanceof Uint16Array) || plane.length !== width * height) {
    throw typeError('plane', `Float64Array, Uint8Array or Uint16Array of length ${width * height}`, plane);
  }
  // x·1 is exact, so float64 input takes the same path.
  const k = plane instanceof Uint8Array ? 1 / 255 : plane instanceof Uint16Array ? 1 / 65535 : 1;
  const ay = zoomAxis(height, outHeight);
  const ax = zoomAxis(width, outWidth);
  const shrink = outHeight < height || outWidth < width;
  const sy = shrink ? Math.max(0, (height / outHeight - 1) / 2) : 0;
  const sx = shrink ? Math.max(0, (width / outWidth - 1) / 2) : 0;

  // Rows and columns the zoom reads, in increasing order, with their compact index.
  const rowSlot = new Int32Array(height).fill(-1);
  const colSlot = new Int32Array(width).fill(-1);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let k = 0; k < outHeight; k++) for (const r of [ay.i0[k], ay.i1[k]]) rowSlot[r] = 1;
  for (let k = 0; k < outWidth; k++) for (const c of [ax.i0[k], ax.i1[k]]) colSlot[c] = 1;
  for (let r = 0; r < height; r++) if (rowSlot[r] === 1) rowSlot[r] = rows.push(r) - 1;
  for (let c = 0; c < width; c++) if (colSlot[c] === 1) colSlot[c] = cols.push(c) - 1;

  // Pass 1 (axis 0): filtered needed rows, full width. gaussian_filter skips σ ≤ 1e-15.
  const nr = rows.length, nc = cols.length;
  const v = new Float64Array(nr * width);
  if (sy > 1e-15) {
    const w = gaussianKernel(sy);
    const R = (w.length - 1) >> 1;
    const idx = new Int32Array(2 * R + 1);
    for (let s = 0; s < nr; s++) {
      const r = rows[s];
      for (let j = -R; j <= R; j++) idx[j + R] = mirror(r + j, height) * width;
      const o = s * width;
      for (let x = 0; x < width; x++) {
        // correlate1d's symmetric branch: centre term, then pairs from the outermost inwards.
        let acc = plane[idx[R] + x] * k * w[R];
        for (let j = R; j >= 1; j--) acc += (plane[idx[R - j] + x] * k + plane[idx[R + j] + x] * k) * w[R - j];
        v[o + x] = acc;
      }
    }
  } else {
    for (let s = 0; s < nr; s++) for (let x = 0; x < width; x++) v[s * width + x] = plane[rows[s] * width + x] * k;
  }

  // Pass 2 (axis 1): filtered needed columns of the needed rows.
  const f = new Float64Array(nr * nc);
  if (sx > 1e-15) {
    const w = gaussianKernel(sx);
    const R = (w.length - 1) >> 1;
    const idx = new Int32Array(nc * (2 * R + 1));
    for (let t = 0; t < nc; t++) for (let j = -R; j <= R; j++) idx[t * (2 * R + 1) + j + R] = mirror(cols[t] + j, width);
    for (let s = 0; s < nr; s++) {
      const o = s * width;
      for (let t = 0; t < nc; t++) {
        const b = t * (2 * R + 1);
        let acc = v[o + idx[b + R]] * w[R];
        for (let j = R; j >= 1; j--) acc += (v[o + idx[b + R - j]] + v[o + idx[b + R + j]]) * w[R - j];
        f[s * nc + t] = acc;
      }
    }
  } else {
    for (let s = 0; s < nr; s++) for (let t = 0; t < nc; t++) f[s * nc + t] = v[s * width + cols[t]];
  }

  // Zoom: terms summed in NI_ZoomShift's order, each (value·w_row)·w_col.
  const out = new Float64Array(outWidth * outHeight);
  for (let k = 0; k < outHeight; k++) {
    const r0 = rowSlot[ay.i0[k]] * nc, r1 = rowSlot[ay.i1[k]] * nc;
    const wy0 = ay.w0[k], wy1 = ay.w1[k];
    const o = k * outWidth;
    for (let l = 0; l < outWidth; l++) {
      const c0 = colSlot[ax.i0[l]], c1 = colSlot[ax.i1[l]];
      const wx0 = ax.w0[l], wx1 = ax.w1[l];
      let t = 0.0;
      t += f[r0 + c0] * wy0 * wx0;
      t += f[r0 + c1] * wy0 * wx1;
      t += f[r1 + c0] * wy1 * wx0;
      t += f[r1 + c1] * wy1 * wx1;
      out[o + l] = t;
    }
  }
  return out;
}

/** Clips values in place to [lo, hi] (skimage's `clip=True` step). */
export function clipInPlace(a: Float64Array, lo: number, hi: number): Float64Array {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    a[i] = x < lo ? lo : x > hi ? hi : x;
  }
  return a;
}

/** Minimum and maximum over several planes (uint planes as their `img_as_float` values). */
export function planesRange(planes: readonly (Float64Array | Uint8Array | Uint16Array)[]): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (const p of planes) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < p.length; i++) {
      const x = p[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    // Scaling by a positive constant is monotonic in IEEE arithmetic: scale the extremes only.
    const k = p instanceof Uint8Array ? 1 / 255 : p instanceof Uint16Array ? 1 / 65535 : 1;
    min = Math.min(min, lo * k);
    max = Math.max(max, hi * k);
  }
  return { min, max };
}

/**
 * skimage 0.19 `rescale(image, scale, multichannel=True)` on planar float64 channels (values as
 * `img_as_float` gives them). The output is clipped to the min/max over all input channels.
 *
 * @example
 * ```ts
 * const { planes, width, height } = rescale([imgAsFloat(blue)], 2048, 2048, 0.25); // 512×512
 * ```
 */
export function rescale(planes: readonly Float64Array[], width: number, height: number, scale: number): { planes: Float64Array[]; width: number; height: number } {
  checkSize(width, height, 'rescale');
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) throw rangeError('scale', 'a finite number > 0', scale);
  if (!Array.isArray(planes) || planes.length === 0) throw typeError('planes', 'a non-empty array of Float64Array', planes);
  planes.forEach((p, k) => {
    if (!(p instanceof Float64Array) || p.length !== width * height) throw typeError(`planes[${k}]`, `Float64Array of length ${width * height}`, p);
  });
  const out = rescaledSize(width, height, scale);
  const { min, max } = planesRange(planes);
  return { ...out, planes: planes.map((p) => clipInPlace(rescalePlane(p, width, height, out.width, out.height), min, max)) };
}

/** OpenCV `borderInterpolate` for BORDER_REFLECT (edge pixel repeated: `fedcba|abcdefgh|hgfedcb`). */
export function reflectIndex(p: number, len: number): number {
  if (len === 1) return 0;
  while (p < 0 || p >= len) p = p < 0 ? -p - 1 : len - 1 - (p - len);
  return p;
}

/** Border sizes hpacellseg uses with `padding=True`: 32 on top/left, 32 − n%32 on bottom/right. */
export function hpaPadding(width: number, height: number): { top: number; bottom: number; left: number; right: number } {
  return { top: 32, bottom: 32 - (height % 32), left: 32, right: 32 - (width % 32) };
}

/**
 * `cv2.copyMakeBorder(plane, top, bottom, left, right, BORDER_REFLECT)` on one plane.
 *
 * @example
 * ```ts
 * const pad = hpaPadding(512, 512); // {top: 32, bottom: 32, left: 32, right: 32}
 * const padded = padReflect(plane, 512, 512, pad); // 576×576
 * ```
 */
export function padReflect<T extends Float64Array | Float32Array | Uint8Array>(
  plane: T,
  width: number,
  height: number,
  pad: { top: number; bottom: number; left: number; right: number },
): T {
  checkSize(width, height, 'padReflect');
  for (const k of ['top', 'bottom', 'left', 'right'] as const) checkInt(`pad.${k}`, pad?.[k], 0, 65536);
  if (plane.length !== width * height) throw rangeError('plane', `length ${width * height}`, plane, 'CELLCAM_E_SHAPE');
  const ow = width + pad.left + pad.right, oh = height + pad.top + pad.bottom;
  const out = new (plane.constructor as new (n: number) => T)(ow * oh);
  const xs = new Int32Array(ow);
  for (let x = 0; x < ow; x++) xs[x] = reflectIndex(x - pad.left, width);
  for (let y = 0; y < oh; y++) {
    const src = reflectIndex(y - pad.top, height) * width;
    const o = y * ow;
    for (let x = 0; x < ow; x++) out[o + x] = plane[src + xs[x]];
  }
  return out;
}

/**
 * `cv2.resize(src, (outWidth, outHeight), interpolation=INTER_AREA)` on interleaved H×W×C data.
 * Enlargement uses OpenCV's area-mode linear coefficients (integer factor = replication, exact);
 * shrinking needs an integer factor (block mean, rounded like OpenCV for uint8).
 *
 * @example
 * ```ts
 * const full = resizeArea(pred512, 512, 512, 3, 2048, 2048); // 4×4 replication
 * ```
 */
export function resizeArea<T extends Float32Array | Uint8Array>(
  src: T,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): T {
  checkSize(width, height, 'resizeArea');
  checkSize(outWidth, outHeight, 'resizeArea.out');
  checkInt('channels', channels, 1, 512);
  if (!(src instanceof Float32Array) && !(src instanceof Uint8Array)) throw typeError('src', 'Float32Array or Uint8Array', src);
  if (src.length !== width * height * channels) throw rangeError('src', `length ${width * height * channels}`, src, 'CELLCAM_E_SHAPE');
  const Ctor = src.constructor as new (n: number) => T;
  if (outWidth === width && outHeight === height) return src.slice() as T;
  if (outWidth >= width && outHeight >= height) {
    if (outWidth % width === 0 && outHeight % height === 0) return replicate(src, width, height, channels, outWidth / width, outHeight / height, Ctor);
    return src instanceof Uint8Array
      ? (areaUpscaleU8(src, width, height, channels, outWidth, outHeight) as T)
      : (areaUpscaleF32(src as Float32Array, width, height, channels, outWidth, outHeight) as T);
  }
  if (outWidth <= width && outHeight <= height && width % outWidth === 0 && height % outHeight === 0) {
    return blockMean(src, width, height, channels, width / outWidth, height / outHeight, Ctor);
  }
  throw rangeError('resizeArea output size', `an enlargement on both axes or an integer shrink factor (input ${width}×${height})`, `${outWidth}×${outHeight}`);
}

function replicate<T extends Float32Array | Uint8Array>(src: T, w: number, h: number, c: number, fx: number, fy: number, Ctor: new (n: number) => T): T {
  const ow = w * fx;
  const out = new Ctor(ow * h * fy * c);
  const row = new Ctor(ow * c);
  for (let y = 0; y < h; y++) {
    const s = y * w * c;
    for (let x = 0; x < w; x++) for (let k = 0; k < fx; k++) for (let ch = 0; ch < c; ch++) row[(x * fx + k) * c + ch] = src[s + x * c + ch];
    for (let k = 0; k < fy; k++) out.set(row, (y * fy + k) * ow * c);
  }
  return out;
}

function blockMean<T extends Float32Array | Uint8Array>(src: T, w: number, h: number, c: number, fx: number, fy: number, Ctor: new (n: number) => T): T {
  const ow = w / fx, oh = h / fy;
  const out = new Ctor(ow * oh * c);
  // OpenCV's fast area path: sum in the work type, multiply by float32(1/area), round for uint8
  // (its 2×2 uint8 SIMD path computes (sum + 2) >> 2 instead: ties round up).
  const scale = Math.fround(1 / (fx * fy));
  const u8 = src instanceof Uint8Array;
  const half = u8 && fx === 2 && fy === 2;
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) {
      sum = u8 ? sum + src[((y * fy + dy) * w + x * fx + dx) * c + ch] : Math.fround(sum + src[((y * fy + dy) * w + x * fx + dx) * c + ch]);
    }
    const v = Math.fround(Math.fround(sum) * scale);
    out[(y * ow + x) * c + ch] = half ? (sum + 2) >> 2 : u8 ? Math.min(255, Math.max(0, roundHalfEven(v))) : v;
  }
  return out;
}

interface AreaTab {
  ofs: Int32Array;
  a0: Float32Array;
  a1: Float32Array;
  last: Uint8Array;
}

// OpenCV resize() coefficient tables for INTER_AREA when enlarging (area_mode linear taps).
function areaTab(inLen: number, outLen: number): AreaTab {
  const inv = outLen / inLen;
  const scale = 1 / inv;
  const t: AreaTab = { ofs: new Int32Array(outLen), a0: new Float32Array(outLen), a1: new Float32Array(outLen), last: new Uint8Array(outLen) };
  for (let d = 0; d < outLen; d++) {
    let s = Math.floor(d * scale);
    let fx = Math.fround(d + 1 - (s + 1) * inv);
    fx = fx <= 0 ? 0 : Math.fround(fx - Math.floor(fx));
    if (s + 1 >= inLen) {
      t.last[d] = 1;
      if (s >= inLen - 1) {
        fx = 0;
        s = inLen - 1;
      }
    }
    t.ofs[d] = s;
    t.a0[d] = Math.fround(1 - fx);
    t.a1[d] = fx;
  }
  return t;
}

function areaUpscaleF32(src: Float32Array, w: number, h: number, c: number, ow: number, oh: number): Float32Array {
  const tx = areaTab(w, ow), ty = areaTab(h, oh);
  const rows = new Map<number, Float32Array>();
  const hrow = (y: number): Float32Array => {
    let r = rows.get(y);
    if (r) return r;
    r = new Float32Array(ow * c);
    const s = y * w * c;
    for (let x = 0; x < ow; x++) {
      const sx = tx.ofs[x] * c;
      for (let ch = 0; ch < c; ch++) {
        r[x * c + ch] = tx.last[x]
          ? src[s + sx + ch]
          : Math.fround(Math.fround(src[s + sx + ch] * tx.a0[x]) + Math.fround(src[s + sx + c + ch] * tx.a1[x]));
      }
    }
    rows.set(y, r);
    return r;
  };
  const out = new Float32Array(ow * oh * c);
  for (let y = 0; y < oh; y++) {
    const sy = ty.ofs[y];
    const r0 = hrow(sy), r1 = hrow(Math.min(sy + 1, h - 1));
    const b0 = ty.a0[y], b1 = ty.a1[y];
    const o = y * ow * c;
    for (let i = 0; i < ow * c; i++) out[o + i] = Math.fround(Math.fround(r0[i] * b0) + Math.fround(r1[i] * b1));
    if (y > 0 && ty.ofs[y - 1] !== sy) rows.delete(ty.ofs[y - 1]);
  }
  return out;
}

function areaUpscaleU8(src: Uint8Array, w: number, h: number, c: number, ow: number, oh: number): Uint8Array {
  const tx = areaTab(w, ow), ty = areaTab(h, oh);
  const ONE = 2048; // INTER_RESIZE_COEF_SCALE
  const fix = (f: number) => roundHalfEven(Math.fround(f * ONE));
  const hrow = (y: number): Int32Array => {
    const r = new Int32Array(ow * c);
    const s = y * w * c;
    for (let x = 0; x < ow; x++) {
      const sx = tx.ofs[x] * c;
      const a0 = fix(tx.a0[x]), a1 = fix(tx.a1[x]);
      for (let ch = 0; ch < c; ch++) r[x * c + ch] = tx.last[x] ? src[s + sx + ch] * ONE : src[s + sx + ch] * a0 + src[s + sx + c + ch] * a1;
    }
    return r;
  };
  const out = new Uint8Array(ow * oh * c);
  for (let y = 0; y < oh; y++) {
    const sy = ty.ofs[y];
    const r0 = hrow(sy), r1 = hrow(Math.min(sy + 1, h - 1));
    const b0 = fix(ty.a0[y]), b1 = fix(ty.a1[y]);
    const o = y * ow * c;
    for (let i = 0; i < ow * c; i++) {
      // VResizeLinearVec_32s8u: ((b0·(S0>>4))>>16 + (b1·(S1>>4))>>16 + 2) >> 2
      const v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
