// Bad command lines through the built CLI: every command answers commander's parse errors the way
// it answers its own, one `cellcam: …` line with its code, a hint naming the command, exit 2, and
// nothing written.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'cellcam-cli-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir });

describe.skipIf(!existsSync(cli))('command-line errors', () => {
  it.each([
    // argv, the message, the command the hint names
    [['segment', 'imgs', '--out', 'o', '--scale', '0.3'], "option '--scale <s>' argument '0.3' is invalid. expected one of 1, 0.5, 0.25 for --scale but received '0.3'", 'cellcam segment'],
    [['segment', 'imgs'], "required option '--out <dir>' not specified", 'cellcam segment'],
    [['segment', 'imgs', '--out', 'o', '--bogus'], "unknown option '--bogus'", 'cellcam segment'],
    [['run', '--train', 't', '--test', 't', '--out', 'o', '--cycles', 'x'], "option '--cycles <n>' argument 'x' is invalid. expected an integer >= 1 and <= 10 for --cycles but received 'x'", 'cellcam run'],
    [['synth', '--out', 'o', '--size', '5000'], "option '--size <px>' argument '5000' is invalid. expected an integer >= 512 and <= 4096 for --size but received '5000'", 'cellcam synth'],
    [['submit', 'validate'], "missing required argument 'file'", 'cellcam submit validate'],
    [['evaluate', '--truth', 't.csv'], "required option '--submission <file>' not specified", 'cellcam evaluate'],
    [['report'], "missing required argument 'run-dir'", 'cellcam report'],
    [['doctr'], "unknown command 'doctr'", 'cellcam'],
  ])('%j', (argv, message, command) => {
    const r = run(...argv);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`cellcam: ${message} [CELLCAM_E_ARG]`);
    expect(lines.at(-1)).toBe(command === 'cellcam' ? "(run 'cellcam --help' for the commands)" : `(run '${command} --help' for its options)`);
    expect(r.stderr).not.toContain('Usage:');
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a suggestion for a mistyped command stays between the error and the hint', () => {
    expect(run('doctr').stderr.split('\n')[1]).toBe('(Did you mean doctor?)');
  });

  it.each([[['--help']], [['--version']], [['help', 'segment']]])('%j still exits 0 on stdout', (argv) => {
    const r = run(...argv);
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stderr).toBe('');
  });
});
