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

/** `stream` is stderr but for tests: a TTY gets the bar, anything else plain lines. */
export function progress(label: string, total: number, quiet = false, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet) return { tick() {}, log() {}, stop() {} };
  if (!stream.isTTY) {
    return {
      tick: (done, t, text) => stream.write(`${label}: ${done}/${t} ${text}\n`),
      log: (line) => stream.write(`${line}\n`),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} | {text}`, stream, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let value = 0, last = '';
  bar.start(total, 0, { text: '' });
  return {
    tick: (done, t, text) => {
      // A stage may learn its size late (an external trainer's own steps): follow it.
      if (t !== total) bar.setTotal((total = t));
      bar.update((value = done), { text: (last = text) });
    },
    log: (line) => {
      // The line goes above the bar, which comes back where it was (not at 0 until the next tick).
      bar.stop();
      stream.write(`${line}\n`);
      bar.start(total, value, { text: last });
    },
    stop: () => bar.stop(),
  };
}
