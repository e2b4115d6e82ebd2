/**
 * One writer per output folder: `cellcam run` and `cellcam segment` hold OUT/.cellcam.lock while
 * they write, so that a second command on the same folder stops at once with who holds it,
 * instead of both computing the same outputs and racing on them. A lock whose process is gone (a
 * killed run) is taken over.
 */
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CellcamError } from '../errors.js';
import { processAlive, tempPathFor } from './atomic.js';

export const LOCK_FILE = '.cellcam.lock';

interface LockRecord {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

/** A held folder lock; `release()` removes the file if it is still this holder's. */
export interface FolderLock {
  path: string;
  release(): Promise<void>;
}

/**
 * Takes `dir`'s lock for `command` (a few words naming the holder, for the other side's error).
 * Throws CELLCAM_E_BUSY when a live process holds it: on this machine, a pid that exists; from
 * another machine (a shared file system), any lock, which the message says how to remove.
 *
 * @example
 * ```ts
 * const lock = await lockFolder('out', 'cellcam run');
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function lockFolder(dir: string, command: string): Promise<FolderLock> {
  const path = join(dir, LOCK_FILE);
  const mine: LockRecord = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  const text = JSON.stringify(mine);
  for (let attempt = 0; attempt < 2; attempt++) {
    let created: boolean;
    try {
      created = await createLock(path, text);
    } catch (e) {
      throw new CellcamError('CELLCAM_E_IO', `${path}: cannot create the folder's lock (${(e as Error).message})`, { cause: e });
    }
    if (created) return { path, release: () => releaseLock(path, text) };
    const held = await readLock(path);
    if (held === 'gone') continue;
    if (held === 'young') throw new CellcamError('CELLCAM_E_BUSY', `${dir}: another cellcam command is taking this folder's lock this very moment; try again`);
    if (held.record !== null && (held.record.host !== mine.host || processAlive(held.record.pid))) {
      const r = held.record;
      const where = r.host === mine.host ? `pid ${r.pid}` : `pid ${r.pid} on ${r.host}`;
      throw new CellcamError(
        'CELLCAM_E_BUSY',
        `${dir}: ${r.command} (${where}, since ${r.startedAt}) is writing here; wait for it to finish or stop it` +
          (r.host === mine.host ? '' : `, and if it is no longer running, delete ${path}`),
      );
    }
    // The holder is gone, or the file is not a lock and not young: take it over, unless another
    // process did so since it was read.
    if ((await readFile(path, 'utf8').catch(() => null)) === held.text) await rm(path, { force: true });
  }
  throw new CellcamError('CELLCAM_E_BUSY', `${path}: another process keeps taking this folder's lock`);
}

/** Creates the lock file with `text` unless it exists (then false). */
async function createLock(path: string, text: string): Promise<boolean> {
  // Written whole to a temp file, then hard-linked into place: link fails if the lock exists, and
  // a lock is never seen half-written.
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, text);
    await link(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code ?? '')) throw e;
  } finally {
    await rm(tmp, { force: true });
  }
  // A file system without hard links: an exclusive create, seen empty for an instant (readLock
  // leaves a young unreadable lock alone).
  try {
    await writeFile(path, text, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The lock file's text and record (null: not a lock); 'young': an unreadable lock seconds old. */
async function readLock(path: string): Promise<{ text: string; record: LockRecord | null } | 'young' | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot read the folder's lock (${(e as Error).message})`, { cause: e });
  }
  try {
    const r = JSON.parse(text) as LockRecord;
    if (Number.isInteger(r.pid) && typeof r.host === 'string') return { text, record: r };
  } catch {
    // not a lock: below
  }
  // Being written (see createLock) if it is seconds old; else left by a crash, and taken over.
  const age = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => 0));
  return age < 5000 ? 'young' : { text, record: null };
}

async function releaseLock(path: string, text: string): Promise<void> {
  // Only this holder's file: after a takeover the lock may be another process's now.
  const now = await readFile(path, 'utf8').catch(() => null);
  if (now === text) await rm(path, { force: true });
}
