/**
 * @cellcam/core — the cellcam library.
 *
 * Kernels (watershed, connected components, CAM-to-cell pooling, cell RLE) run on the native
 * addon when it is built and on their TypeScript twins otherwise (or with `backend: 'js'`).
 */
export * from './errors.js';
export { capabilities, nativeLoadError, type Backend, type Device } from './native.js';
export * from './kernels/watershed.js';
export * from './kernels/label.js';
export * from './kernels/pool.js';
export * from './kernels/rle.js';
export { VERSION } from './version.js';
