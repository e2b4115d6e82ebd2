#!/usr/bin/env node
/** The `cellcam` command: parses arguments and delegates each command to @cellcam/core. */
import { Command } from 'commander';
import { VERSION } from '@cellcam/core';
import { registerDoctor } from './commands/doctor.js';
import { registerSynth } from './commands/synth.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerSubmit } from './commands/submit.js';
import { registerBaseline } from './commands/baseline.js';
import { registerSegment } from './commands/segment.js';
import { registerDemo } from './commands/demo.js';
import { registerRun } from './commands/run.js';
import { registerReport } from './commands/report.js';

const program = new Command();
program
  .name('cellcam')
  .description('Per-cell protein localization from image-level labels (HPA Single Cell Classification)')
  .version(VERSION)
  .showHelpAfterError();

registerDoctor(program);
registerSynth(program);
registerEvaluate(program);
registerSubmit(program);
registerBaseline(program);
registerSegment(program);
registerRun(program);
registerReport(program);
registerDemo(program);

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  process.stderr.write(`cellcam: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`);
  process.exitCode = 1;
});
