// The output folder's lock: one writer at a time, the holder named in the error, a lock of a
// process that is gone (or of nothing readable, left long ago) taken over, release that only
// removes its own lock.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockFolder } from '../src/io/lock.js';

const root = mkdtempSync(join(tmpdir(), 'cellcam-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
};
/** The pid of a process that has exited. */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
const lockText = (pid: number, host = hostname()) => JSON.stringify({ pid, host, command: 'cellcam run', startedAt: '2026-11-27T10:00:00.000Z' });

describe('lockFolder', () => {
  it('takes a free folder, records who holds it, and release removes it', async () => {
    const d = fresh();
    const lock = await lockFolder(d, 'cellcam segment');
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), command: 'cellcam segment' });
    await lock.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    // taken again after release; a second taker in this same process is refused while it is held
    const again = await lockFolder(d, 'cellcam run');
    await expect(lockFolder(d, 'cellcam run')).rejects.toMatchObject({ code: 'CELLCAM_E_BUSY', message: `${d}: cellcam run (pid ${process.pid}, since ${JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')).startedAt}) is writing here; wait for it to finish or stop it` });
    await again.release();
  });

  it('refuses a folder that a live process holds, naming it', async () => {
    const d = fresh();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(d, LOCK_FILE), lockText(child.pid!));
      await expect(lockFolder(d, 'cellcam run')).rejects.toMatchObject({
        code: 'CELLCAM_E_BUSY',
        message: `${d}: cellcam run (pid ${child.pid}, since 2026-11-27T10:00:00.000Z) is writing here; wait for it to finish or stop it`,
      });
      expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(lockText(child.pid!));
    } finally {
      child.kill();
    }
  });

  it.each<[string, boolean, () => string, number, RegExp | null]>([
    // whose lock, taken over?, what the file holds, its age in seconds, the error when refused
    ['a process that is gone', true, () => lockText(deadPid()), 0, null],
    ['another machine', false, () => lockText(1, 'elsewhere'), 0, /cellcam run \(pid 1 on elsewhere, since .*\) is writing here; wait for it to finish or stop it, and if it is no longer running, delete .*\.cellcam\.lock$/],
    ['nothing readable, written long ago (a crash)', true, () => '{"pid":', 3600, null],
    ['nothing readable, written just now (being written)', false, () => '', 0, /another cellcam command is taking this folder's lock this very moment; try again$/],
  ])('a lock of %s: taken over %s', async (_what, takenOver, text, age, error) => {
    const d = fresh();
    const path = join(d, LOCK_FILE);
    writeFileSync(path, text());
    if (age) utimesSync(path, new Date(Date.now() - age * 1000), new Date(Date.now() - age * 1000));
    const got = lockFolder(d, 'cellcam segment');
    if (takenOver) {
      const lock = await got;
      expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
      await lock.release();
    } else {
      await expect(got).rejects.toMatchObject({ code: 'CELLCAM_E_BUSY', message: expect.stringMatching(error!) });
    }
  });

  it("release leaves a lock that is not its own (taken over after this holder's process was thought gone)", async () => {
    const d = fresh();
    const lock = await lockFolder(d, 'cellcam run');
    writeFileSync(join(d, LOCK_FILE), lockText(12345, 'elsewhere'));
    await lock.release();
    expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(lockText(12345, 'elsewhere'));
  });

  it('names the folder when it cannot create the lock', async () => {
    await expect(lockFolder(join(root, 'missing', 'dir'), 'cellcam run')).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: expect.stringContaining(join(root, 'missing', 'dir', LOCK_FILE)) });
  });
});
