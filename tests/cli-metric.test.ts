// Issue-3 CLI end to end on a tiny synthetic set: baselines -> submit validate -> evaluate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'cellcam-cli-metric-'));
const data = join(dir, 'syn');

describe.skipIf(!existsSync(cli))('baseline / submit validate / evaluate', () => {
  beforeAll(() => {
    const r = run('synth', '--out', data, '--images', '6', '--size', '512', '--seed', '9', '--test-fraction', '0.5', '--quiet');
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['oracle', (m: number) => expect(m).toBe(1)],
    ['broadcast', (m: number) => expect(m).toBeGreaterThan(0)],
    ['random', (m: number) => expect(m).toBeGreaterThan(0)],
  ])('%s baseline validates and scores', (kind, check) => {
    const sub = join(dir, `${kind}.csv`);
    const b = run('baseline', '--dataset', data, '--kind', kind, '--out', sub);
    expect(b.status, b.stderr).toBe(0);
    const v = run('submit', 'validate', sub, '--images', join(data, 'test'));
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^OK: 3 images \(expected 3\)/m);
    const e = run('evaluate', '--truth', join(data, 'truth.csv'), '--submission', sub, '--json');
    expect(e.status, e.stderr).toBe(0);
    const j = JSON.parse(e.stdout);
    expect(j.images.evaluated).toBe(3);
    check(j.mAP);
    expect(j.classes).toHaveLength(19);
  });

  it("oracle with --cells under the HPA segmentator's names ({ID}_cellmask.png) is the same file", () => {
    const hpa = join(dir, 'hpa-cells');
    mkdirSync(hpa);
    for (const f of readdirSync(join(data, 'cells'))) copyFileSync(join(data, 'cells', f), join(hpa, f.replace('_cells.png', '_cellmask.png')));
    const sub = join(dir, 'oracle-hpa.csv');
    const b = run('baseline', '--dataset', data, '--kind', 'oracle', '--out', sub, '--cells', hpa);
    expect(b.status, b.stderr).toBe(0);
    expect(readFileSync(sub).equals(readFileSync(join(dir, 'oracle.csv')))).toBe(true);
  });

  it('evaluate prints a per-class table', () => {
    const e = run('evaluate', '--truth', join(data, 'truth.csv'), '--submission', join(dir, 'oracle.csv'), '--mode', 'box');
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/^mAP@0\.6 \(box\): 1\.0000/m);
    expect(e.stdout).toMatch(/Nucleoplasm|Cytosol|Negative|Golgi/);
  });

  it('submit validate exits 1 and names the line of a broken row', () => {
    const bad = join(dir, 'bad.csv');
    const lines = readFileSync(join(dir, 'oracle.csv'), 'utf8').trimEnd().split('\n');
    lines[2] = lines[2].replace(/,(\d+) /, ',$1 notanumber ');
    writeFileSync(bad, lines.join('\n') + '\n');
    const v = run('submit', 'validate', bad, '--images', join(data, 'test'));
    expect(v.status).toBe(1);
    expect(v.stdout).toMatch(/bad\.csv:3: .*(not a multiple of 3|not a number)/);
  });

  it.each([
    [['evaluate', '--truth', 'nope.csv', '--submission', 'x.csv'], /nope\.csv: cannot open/],
    [['evaluate', '--truth', 'a', '--submission', 'b', '--iou', '2'], /--iou/],
    [['baseline', '--dataset', 'nowhere', '--kind', 'broadcast', '--out', 'o.csv'], /nowhere\/truth\.csv: not found/],
    [['baseline', '--dataset', 'x', '--kind', 'psychic', '--out', 'o.csv'], /--kind/],
  ])('bad input %j gets a clear error', (args, msg) => {
    const r = run(...(args as string[]));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(msg);
  });
});
