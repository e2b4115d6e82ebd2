// The CLI's progress output: a bar on a terminal that a logged line does not send back to 0, plain
// `label: N/M text` lines elsewhere, nothing with --quiet.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { progress } from '../packages/cli/src/progress.js';

/** A stream that records what is written, a terminal 100 columns wide when `tty`. */
function sink(tty: boolean) {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream & { chunks: string[] };
  Object.assign(s, { isTTY: tty, columns: 100, rows: 40, chunks, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return s;
}

describe('progress', () => {
  it('on a terminal, a logged line goes above the bar and the bar comes back at its value', () => {
    const out = sink(true);
    const p = progress('segment', 10, false, out);
    p.tick(6, 10, 'img-6');
    p.log('note: CUDA not used');
    const after = out.chunks.join('').split('note: CUDA not used\n')[1];
    p.stop();
    expect(after).toMatch(/segment \[[^\]]*\] 6\/10 \| ETA .* \| img-6/);
    expect(after).not.toMatch(/ 0\/10 /);
  });

  it.each([
    // tty, quiet, what is written for tick(3, 8, 'x') and log('hello')
    [false, false, 'run: 3/8 x\nhello\n'],
    [false, true, ''],
    [true, true, ''],
  ])('tty %s, quiet %s', (tty, quiet, expected) => {
    const out = sink(tty);
    const p = progress('run', 8, quiet, out);
    p.tick(3, 8, 'x');
    p.log('hello');
    p.stop();
    expect(out.chunks.join('')).toBe(expected);
  });
});
