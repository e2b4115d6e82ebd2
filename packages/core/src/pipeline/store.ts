/**
 * Stage outputs on disk: JSON and binary files written atomically, content hashes, and the
 * per-stage manifest that records what each output was computed from, so reruns skip what is
 * up to date and a killed run resumes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { CellcamError } from '../errors.js';

const fileHashes = new Map<string, { size: number; mtime: number; hash: string }>();

/** sha256 of a file's bytes (memoised per path, size and mtime). */
export async function hashFile(path: string): Promise<string> {
  const st = await stat(path);
  const memo = fileHashes.get(path);
  if (memo && memo.size === st.size && memo.mtime === st.mtimeMs) return memo.hash;
  const hash = createHash('sha256').update(await readFile(path)).digest('hex');
  fileHashes.set(path, { size: st.size, mtime: st.mtimeMs, hash });
  return hash;
}

/** sha256 of a JSON-serialisable value (keys in insertion order). */
export function hashValue(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex');
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(value) + '\n');
}

/** Reads a JSON output; a missing file is null, a corrupt one (e.g. from an old version) too. */
export async function readJsonOrNull<T>(path: string): Promise<T | null> {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

export async function readJson<T>(path: string, what: string): Promise<T> {
  const v = await readJsonOrNull<T>(path);
  if (v === null) throw new CellcamError('CELLCAM_E_IO', `${path}: ${what} is missing or unreadable (rerun the earlier stages)`);
  return v;
}

/** A stage's record: the key (hash of everything it depends on) and what it reported. */
export interface StageManifest {
  stage: string;
  key: string;
  version: string;
  finishedAt: string;
  ms: number;
  counts: Record<string, number>;
  [extra: string]: unknown;
}
