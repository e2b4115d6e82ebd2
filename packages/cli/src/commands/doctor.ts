/** `cellcam doctor`: prints the native build, CUDA, onnxruntime-node and sharp status. */
import type { Command } from 'commander';
import { doctor } from '@cellcam/core';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the native addon build, CUDA, onnxruntime-node and sharp status')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const r = await doctor();
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const n = r.native;
      const lines = [
        `cellcam ${r.cellcam} on node ${r.node} (${r.platform}); libuv thread pool: ${r.threadPool} threads (UV_THREADPOOL_SIZE; native kernels, image decoding and file writes share it)`,
        n.native
          ? `native addon: ok (${n.nativePath}), ${n.threads} CPU threads, keeps up to ${n.scratch.limitBytes / 2 ** 20} MiB of scratch between calls (CELLCAM_SCRATCH_MB)`
          : `native addon: NOT LOADED — kernels use the TypeScript twins\n  ${(n.nativeError ?? '').split('\n').join('\n  ')}`,
        `CUDA: ${n.compiledWithCuda ? 'compiled in' : 'not compiled in'}; ` +
          (n.cudaDevices > 0
            ? `${n.cudaDevices} device(s): ${n.deviceNames.map((d, i) => `${d}${n.deviceMemory[i] ? ` (${(n.deviceMemory[i] / 2 ** 30).toFixed(0)} GiB)` : ''}`).join(', ')} (runtime ${n.cudaRuntimeVersion}, driver ${n.cudaDriverVersion})`
            : `no usable device — CPU kernels will run (${n.reason})`),
        r.onnxruntime.ok
          ? `onnxruntime-node: ${r.onnxruntime.version}; execution providers: ${r.onnxruntime.backends.map((b) => `${b.name}${b.bundled ? '' : ' (not bundled)'}`).join(', ')}`
          : `onnxruntime-node: NOT AVAILABLE (${r.onnxruntime.error})`,
        r.sharp.ok
          ? `sharp: ${r.sharp.version} (libvips ${r.sharp.vips}); reads ${r.sharp.inputFormats.join(', ')}`
          : `sharp: NOT AVAILABLE (${r.sharp.error})`,
      ];
      const scratchMb = process.env.CELLCAM_SCRATCH_MB;
      if (n.native && scratchMb !== undefined && scratchMb !== '' && !/^\d+$/.test(scratchMb)) {
        lines.push(`warning: CELLCAM_SCRATCH_MB is '${scratchMb}', not a whole number of MiB: the default (${n.scratch.limitBytes / 2 ** 20} MiB) is used`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
