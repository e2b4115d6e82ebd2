// Loader for the cellcam native addon. Tries the known build locations, checks the binary is not
// stale, and otherwise throws one error that lists every path tried and how to fix it.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const pkg = JSON.parse(readFileSync(path.join(__dirname, 'package.json'), 'utf8'));

function candidates() {
  const list = [];
  if (process.env.CELLCAM_NATIVE_PATH) list.push(path.resolve(process.env.CELLCAM_NATIVE_PATH));
  list.push(path.join(__dirname, 'build', 'Release', 'cellcam_native.node'));
  list.push(path.join(__dirname, 'build', 'Debug', 'cellcam_native.node'));
  return list;
}

function load() {
  const tried = [];
  for (const file of candidates()) {
    if (!existsSync(file)) {
      tried.push(`  ${file}: not found`);
      continue;
    }
    let binding;
    try {
      binding = require(file);
    } catch (err) {
      tried.push(`  ${file}: ${String(err && err.message).split('\n')[0]}`);
      continue;
    }
    const built = typeof binding.version === 'function' ? binding.version() : 'unknown';
    if (built !== pkg.version) {
      tried.push(`  ${file}: stale binary (built from @cellcam/native ${built}, package is ${pkg.version})`);
      continue;
    }
    binding.path = file;
    return binding;
  }
  const err = new Error(
    'Could not load the @cellcam/native addon.\n' +
      'Paths tried:\n' + tried.join('\n') + '\n' +
      'Possible solutions:\n' +
      '  - build it: npm run build -w @cellcam/native   (needs cmake >= 3.18 and a C++17 compiler)\n' +
      '  - build without CUDA if nvcc fails: CELLCAM_WITH_CUDA=OFF npm run rebuild -w @cellcam/native\n' +
      '  - point CELLCAM_NATIVE_PATH at a prebuilt cellcam_native.node\n' +
      '  - or use the TypeScript kernels: pass { backend: "js" } to @cellcam/core functions',
  );
  err.code = 'CELLCAM_E_NATIVE_LOAD';
  throw err;
}

module.exports = load();
