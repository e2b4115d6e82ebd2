// @cellcam/core as users load it: by its package name, from ES modules and from CommonJS
// (require of an ES module needs Node 20.19 / 22.12 and a module graph without top-level await).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const [major, minor] = process.versions.node.split('.').map(Number);
const requireEsm = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23;

/** Runs a script written into the repository (so that `@cellcam/core` resolves as in a user's project). */
function runScript(name: string, source: string) {
  const dir = mkdtempSync(join(root, 'node_modules', '.cellcam-entry-'));
  try {
    writeFileSync(join(dir, name), source);
    return spawnSync(process.execPath, [join(dir, name)], { encoding: 'utf8', cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const probe = (core: string) => `
  const names = ['segmentImage', 'poolCells', 'encodeCells', 'SubmissionWriter', 'runPipeline', 'buildReport', 'capabilities'];
  console.log(JSON.stringify(names.map((n) => [n, typeof ${core}[n]])));`;
const expected = JSON.stringify(
  ['segmentImage', 'poolCells', 'encodeCells', 'SubmissionWriter', 'runPipeline', 'buildReport', 'capabilities'].map((n) => [n, 'function']),
);

describe('@cellcam/core entry points', () => {
  it('imports from an ES module', () => {
    const r = runScript('probe.mjs', `import * as core from '@cellcam/core';${probe('core')}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(expected);
  });

  it.skipIf(!requireEsm)('requires from CommonJS (no top-level await in its module graph)', () => {
    const r = runScript('probe.cjs', `const core = require('@cellcam/core');${probe('core')}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(expected);
  });
});
