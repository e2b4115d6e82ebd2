// placeholder: benchmark of the watershed kernel
import type { BenchOptions, Row } from './harness.js';
export async function run(_opts: BenchOptions): Promise<Row[]> {
  return [];
}
