/**
 * Progress output shared by commands: a cli-progress bar with ETA on a TTY, plain
 * `label: N/M ID` lines otherwise (CI logs), nothing with --quiet.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(done: number, total: number, text: string): void;
  log(line: string): void;
  stop(): void;
}

export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { tick() {}, log() {}, stop() {} };
  if (!process.stderr.isTTY) {
    return {
      tick: (done, t, text) => process.stderr.write(`${label}: ${done}/${t} ${text}\n`),
      log: (line) => process.stderr.write(`${line}\n`),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} | {text}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { text: '' });
  return {
    tick: (done, t, text) => {
      // A stage may learn its size late (an external trainer's own steps): follow it.
      if (t !== total) bar.setTotal((total = t));
      bar.update(done, { text });
    },
    log: (line) => {
      bar.stop();
      process.stderr.write(`${line}\n`);
      bar.start(total, 0, { text: '' });
    },
    stop: () => bar.stop(),
  };
}
