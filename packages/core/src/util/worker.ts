/** Helpers for core's worker threads (ONNX sessions, report rendering). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where a worker entry lives. From dist/ it sits next to the module that starts it (`beside`,
 * resolved against that module's `import.meta.url`). From the TypeScript sources (vitest) a
 * Worker cannot load the .ts file, so the built copy in packages/core/dist is used (`built`,
 * relative to the same module). Returns the URL and every path tried.
 */
export function findWorkerEntry(from: string, beside: string, built: string): { url: URL | null; tried: string[] } {
  const candidates = [new URL(beside, from), new URL(built, from)];
  for (const u of candidates) if (existsSync(fileURLToPath(u))) return { url: u, tried: candidates.map((c) => fileURLToPath(c)) };
  return { url: null, tried: candidates.map((c) => fileURLToPath(c)) };
}

/**
 * The parent's execArgv minus what would break loading a worker file: `--input-type` and the
 * -e/-p code that goes with it.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--input-type') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}
