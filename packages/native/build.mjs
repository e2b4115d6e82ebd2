#!/usr/bin/env node
// Builds the addon with cmake-js. `configure` then `build` (not `compile`) so that a changed
// CELLCAM_WITH_CUDA always reaches CMake while builds stay incremental.
//   --if-missing  skip when build/Release/cellcam_native.node exists (used by `npm install`)
//   --clean       remove build/ first
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const binary = join(here, 'build', 'Release', 'cellcam_native.node');

if (args.has('--if-missing') && existsSync(binary)) {
  console.log(`@cellcam/native: ${binary} exists, skipping build (npm run rebuild -w @cellcam/native to force)`);
  process.exit(0);
}
if (args.has('--clean')) rmSync(join(here, 'build'), { recursive: true, force: true });

const withCuda = (process.env.CELLCAM_WITH_CUDA || 'AUTO').toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(withCuda)) {
  console.error(`@cellcam/native: CELLCAM_WITH_CUDA must be AUTO, ON or OFF, got '${process.env.CELLCAM_WITH_CUDA}'`);
  process.exit(2);
}
const require = createRequire(import.meta.url);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('@cellcam/native: cmake-js is not installed; run `npm install` at the repository root first.');
  process.exit(1);
}
const buildType = process.env.CMAKE_BUILD_TYPE === 'Debug' ? ['--debug'] : [];
const run = (verb, extra) => {
  const r = spawnSync(process.execPath, [cmakeJs, verb, ...buildType, ...extra], { cwd: here, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n@cellcam/native: 'cmake-js ${verb}' failed (exit ${r.status}).\n` +
      `  Needs cmake >= 3.18 and a C++17 compiler. If the CUDA part fails, build CPU-only with:\n` +
      `    CELLCAM_WITH_CUDA=OFF npm run rebuild -w @cellcam/native`);
    process.exit(r.status ?? 1);
  }
};
const jobs = String(Math.max(1, (await import('node:os')).availableParallelism()));
run('configure', [`--CDCELLCAM_WITH_CUDA=${withCuda}`]);
run('build', ['--parallel', jobs]);
