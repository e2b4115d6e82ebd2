/** Bounded concurrency for per-image work. */

/** Runs `work` over items with `jobs` concurrent workers; the first error stops new work and is thrown. */
export async function forEachLimit<T>(items: readonly T[], jobs: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0, failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await work(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (failed !== null) throw failed;
}
