/** Where @cellcam/core's worker-thread entries live, from its dist/ or from its sources. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The built worker entry `dir/name` of @cellcam/core: beside the caller when it runs from dist/,
 * else the built copy in packages/core/dist (from the TypeScript sources, as under vitest, a
 * Worker cannot load the .ts file). `url` is null when neither exists; `tried` lists both paths.
 *
 * @example
 * ```ts
 * const { url } = builtWorkerUrl(import.meta.url, 'segment', 'model-free-worker.js');
 * ```
 */
export function builtWorkerUrl(from: string, dir: string, name: string): { url: URL | null; tried: string[] } {
  const candidates = [new URL(`./${name}`, from), new URL(`../../dist/${dir}/${name}`, from)];
  return { url: candidates.find((u) => existsSync(fileURLToPath(u))) ?? null, tried: candidates.map((u) => fileURLToPath(u)) };
}
