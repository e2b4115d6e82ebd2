/** Display helpers shared by the synth preview and the report. */

/** Scale that maps a channel's 99.8th percentile to full brightness. */
export function stretchScale(a: ArrayLike<number>, bitDepth: 8 | 16): number {
  const bins = 1024, shift = bitDepth === 16 ? 6 : 0, max = bitDepth === 16 ? 65535 : 255;
  const hist = new Uint32Array(bins);
  // Integer arrays of the stated depth cannot exceed the last bin: skip the clamp (the hot case).
  if ((bitDepth === 8 && a instanceof Uint8Array) || (bitDepth === 16 && a instanceof Uint16Array)) for (let i = 0; i < a.length; i++) hist[a[i] >> shift]++;
  else for (let i = 0; i < a.length; i++) hist[Math.min(bins - 1, (a[i] >> shift) | 0)]++;
  let acc = 0, hi = bins - 1;
  const target = a.length * 0.998;
  for (let b = 0; b < bins; b++) {
    acc += hist[b];
    if (acc >= target) {
      hi = b;
      break;
    }
  }
  return 1 / Math.max((hi + 1) << shift, max * 0.08);
}
