#!/usr/bin/env node
/** The `cellcam` command: parses arguments and delegates each command to @cellcam/core. */
import { Command, type CommanderError } from 'commander';
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

/** Exit status for bad arguments; 1 is for failures. */
const EXIT_USAGE = 2;

const program = new Command();
program
  .name('cellcam')
  .description('Per-cell protein localization from image-level labels (HPA Single Cell Classification)')
  .version(VERSION)
  // Commander's own parse errors (unknown option, bad value, missing --out) look like ours: one
  // `cellcam: …` line with its code, a one-line hint instead of the whole help, and exit status 2
  // for bad usage, as argparse does. Subcommands inherit these settings, so they come first.
  .configureOutput({
    outputError: (str, write) => {
      const [first, ...rest] = str.replace(/^error: /, '').trimEnd().split('\n');
      write([`cellcam: ${first} [CELLCAM_E_ARG]`, ...rest].join('\n') + '\n');
    },
  })
  .showHelpAfterError("(run 'cellcam --help' for the commands)")
  .exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

registerDoctor(program);
registerSynth(program);
registerEvaluate(program);
registerSubmit(program);
registerBaseline(program);
registerSegment(program);
registerRun(program);
registerReport(program);
registerDemo(program);

// The hint names the command the user typed.
const hintEach = (cmd: Command, path: string): void => {
  for (const sub of cmd.commands) {
    const name = `${path} ${sub.name()}`;
    sub.showHelpAfterError(`(run '${name} --help' for its options)`);
    hintEach(sub, name);
  }
};
hintEach(program, 'cellcam');

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  process.stderr.write(`cellcam: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`);
  process.exitCode = 1;
});
