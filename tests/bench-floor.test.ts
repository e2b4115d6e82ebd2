// Issue 6's memory-bandwidth floor in the CUDA bench rows: the bytes a kernel must read and write
// over the card's copy bandwidth (cudaCopyBandwidth), and the fraction of it a measured time
// reaches. The arithmetic is checked here; the bandwidth itself needs a GPU (native-loader.test.ts).
import { describe, expect, it } from 'vitest';
import { floorNote } from '../packages/bench/src/harness.js';

describe('floorNote', () => {
  it.each([
    {
      name: 'labelCell at 2048² on an H100 (10 bytes per pixel)',
      bytes: 10 * 2048 * 2048, bw: 2.9e12, times: { kernels: 98, 'with copies': 116 },
      want: 'floor 14.5 µs (41.9 MB at 2900 GB/s), reached 0.01 % (kernels), 0.01 % (with copies)',
    },
    {
      name: 'pooling at 2048², int32 labels and a 19 × 64² map',
      bytes: 4 * 2048 * 2048 + 19 * 64 * 64 * 4 + 60 * 39 * 4, bw: 4.0e12, times: { kernels: 0.46, 'with copies': 2.7 },
      want: 'floor 4.3 µs (17.1 MB at 4000 GB/s), reached 0.9 % (kernels), 0.2 % (with copies)',
    },
    {
      name: 'a kernel at a third of the floor',
      bytes: 3e9, bw: 3e12, times: { kernels: 3 },
      want: 'floor 1000.0 µs (3000.0 MB at 3000 GB/s), reached 33 % (kernels)',
    },
    {
      name: 'no time measured: the floor alone',
      bytes: 1e6, bw: 1e12, times: { kernels: 0 },
      want: 'floor 1.0 µs (1.0 MB at 1000 GB/s)',
    },
  ])('$name', ({ bytes, bw, times, want }) => {
    expect(floorNote(bytes, bw, times)).toBe(want);
  });
});
