// Root vitest config: one project per package with tests, plus the cross-package tests/.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const coreSrc = fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url));

export default defineConfig({
  test: {
    // Native addons, sharp and onnxruntime are not safe under worker threads: keep forks.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The native scratch cache hands out blocks filled with 0xA5 (never zeros), so a kernel that
    // reads a temporary before writing it fails its parity tests (packages/native/src/scratch.h).
    env: { CELLCAM_SCRATCH_POISON: '1' },
    projects: [
      {
        extends: true,
        resolve: { alias: { '@cellcam/core': coreSrc } },
        test: { name: 'core', include: ['packages/core/test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: { '@cellcam/core': coreSrc } },
        test: { name: 'integration', include: ['tests/**/*.test.ts'] },
      },
    ],
  },
});
