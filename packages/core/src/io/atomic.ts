/**
 * Atomic file output: write to a temp file in the same folder, fsync, then rename, so a reader
 * (or a resumed run) never sees a half-written file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp path beside `path` (same file system, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.cellcam-tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}-${basename(path)}`);
}

/**
 * Writes `data` to `path` atomically.
 *
 * @example
 * ```ts
 * await writeFileAtomic('out/run.json', JSON.stringify(run));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Synchronous variant of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Removes temp files that a killed writer left below `dir` (down to `depth` folder levels): those
 * whose writer process no longer runs. Returns the paths removed.
 *
 * @example
 * ```ts
 * await removeStaleTempFiles('out'); // before resuming a run
 * ```
 */
export async function removeStaleTempFiles(dir: string, depth = 3): Promise<string[]> {
  const { readdir, unlink } = await import('node:fs/promises');
  const removed: string[] = [];
  const walk = async (d: string, level: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (level < depth) await walk(p, level + 1);
        continue;
      }
      const m = /^\.cellcam-tmp-(\d+)-/.exec(e.name);
      if (m && !processAlive(Number(m[1]))) {
        await unlink(p).catch(() => {});
        removed.push(p);
      }
    }
  };
  await walk(dir, 0);
  return removed;
}

/** Whether a process of this machine with that pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
