// `cellcam synth` end to end through the built CLI: layout, progress, summary, determinism, exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

describe.skipIf(!existsSync(cli))('cellcam synth', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cellcam-cli-synth-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes train/, test/, cells/, the CSVs, synth.json and a preview, with progress on stderr', () => {
    const out = join(dir, 'set');
    const r = run('synth', '--out', out, '--images', '3', '--size', '512', '--seed', '5', '--test-fraction', '0.34', '--preview', join(dir, 'preview.png'));
    expect(r.stderr).not.toMatch(/cellcam:/);
    expect(r.status).toBe(0);
    const progress = r.stderr.trim().split('\n');
    expect(progress).toHaveLength(3);
    progress.forEach((line, i) => expect(line).toMatch(new RegExp(`^synth: ${i + 1}/3 ${uuid}$`)));
    expect(r.stdout).toMatch(/^wrote 3 images \(2 train, 1 test\), \d+ cells to /);
    expect(readdirSync(out).sort()).toEqual(['cells', 'synth.json', 'test', 'train', 'train.csv', 'truth.csv']);
    const train = readdirSync(join(out, 'train'));
    expect(train).toHaveLength(8);
    for (const f of train) expect(f).toMatch(new RegExp(`^${uuid}_(red|green|blue|yellow)\\.png$`));
    expect(readdirSync(join(out, 'test'))).toHaveLength(4);
    const cells = readdirSync(join(out, 'cells'));
    expect(cells).toHaveLength(6);
    for (const f of cells) expect(f).toMatch(new RegExp(`^${uuid}_(cells|nuclei)\\.png$`));
    const csv = readFileSync(join(out, 'train.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('ID,Label');
    for (const row of csv.slice(1)) expect(row).toMatch(new RegExp(`^${uuid},\\d+(\\|\\d+)*$`));
    const truth = readFileSync(join(out, 'truth.csv'), 'utf8').trim().split('\n');
    expect(truth[0]).toBe('ID,ImageWidth,ImageHeight,PredictionString');
    expect(truth).toHaveLength(4);
    for (const row of truth.slice(1)) expect(row).toMatch(new RegExp(`^${uuid},512,512,\\d+ 1 \\S+( \\d+ 1 \\S+)*$`));
    const meta = JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8'));
    expect(meta.options).toMatchObject({ images: 3, size: 512, seed: 5, bitDepth: 8 });
    expect(existsSync(join(dir, 'preview.png'))).toBe(true);
  });

  it('prints a JSON summary and is byte-for-byte repeatable', () => {
    const a = run('synth', '--out', join(dir, 'a'), '--images', '1', '--size', '512', '--seed', '9', '--json', '--quiet');
    const b = run('synth', '--out', join(dir, 'b'), '--images', '1', '--size', '512', '--seed', '9', '--json', '--quiet');
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(a.stderr).toBe('');
    const s = JSON.parse(a.stdout);
    expect(s.train).toHaveLength(1);
    expect(s.labelCounts).toHaveLength(19);
    expect(s.cells).toBeGreaterThan(3);
    for (const f of ['truth.csv', 'train.csv', 'synth.json', `train/${s.train[0]}_green.png`, `cells/${s.train[0]}_cells.png`]) {
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f)))).toBe(true);
    }
  });

  it.each([
    ['size below 512', ['--size', '63'], /--size/],
    ['size above 4096', ['--size', '4097'], /--size/],
    ['non-numeric images', ['--images', 'many'], /--images/],
    ['zero images', ['--images', '0'], /--images/],
    ['bit depth 12', ['--bit-depth', '12'], /--bit-depth/],
    ['test fraction 1', ['--test-fraction', '1'], /--test-fraction/],
    ['balanced with too few images', ['--balanced', '--images', '5'], /--images/],
  ])('exits 2 with a message naming the option (%s)', (_name, args, msg) => {
    const r = run('synth', '--out', join(dir, 'bad'), '--quiet', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^cellcam: /);
    expect(r.stderr).toMatch(msg);
    expect(existsSync(join(dir, 'bad', 'train.csv'))).toBe(false);
  });

  it('exits 2 when --out is missing or not a writable directory', () => {
    const missing = run('synth', '--images', '1');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^cellcam: .*--out/);
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const r = run('synth', '--out', join(file, 'sub'), '--images', '1', '--size', '512');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^cellcam: Expected a writable directory for --out/);
  });
});
