/**
 * External trainers (docs/trainer-protocol.md): cellcam writes a job file, runs the user's command
 * (PyTorch, anything), streams its output and progress lines, and checks the ONNX it leaves behind.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { CELL_CROP_CONTRACT, CELL_FEATURES_CONTRACT, DEFAULT_INPUT_SIZE, IMAGE_CLASSIFIER_CONTRACT, META } from '../model/contracts.js';
import { decodeOnnxModel } from '../model/onnx-writer.js';
import { OrtPool, type OrtContract, type OrtTensorData } from '../model/session.js';
import { checkInt } from '../util/validate.js';

export type TrainerStage = 'train-image' | 'train-cell';
export type TrainerContract = 'image-classifier' | 'cell-features' | 'cell-crops';

/** The job file (`<workDir>/job.json`) a trainer reads. Every field is described in docs/trainer-protocol.md. */
export interface TrainerJob {
  /** Protocol version; a trainer should refuse versions it does not know. */
  version: 1;
  stage: TrainerStage;
  /** Which ONNX contract the model must satisfy (and which manifest layout to expect). */
  contract: TrainerContract;
  /** Absolute path of the training manifest CSV (columns per contract: {@link TRAINER_MANIFEST_COLUMNS}). */
  manifest: string;
  /** Class names in logit order: the 19 HPA names, + 'unknown' for single-label cell jobs. */
  classes: string[];
  /** true: sigmoid per class (19 logits); false: softmax over classes (cell jobs: 20 logits, last = unknown). */
  multiLabel: boolean;
  /** Image classifier input side (the model is fed [N, 4, inputSize, inputSize]). */
  inputSize?: number;
  /** Cell crop side S (the model is fed [N, 4, S, S]). */
  cropSize?: number;
  /** Free-form settings passed through from the user's config (epochs, lr, backbone, …). */
  hyperParameters: Record<string, unknown>;
  /** Absolute path where the trainer must leave model.onnx (write a temp file, then rename). */
  output: string;
  /** Absolute scratch folder for the trainer (checkpoints, logs); cellcam writes job.json and trainer.log here. */
  workDir: string;
}

export interface ExternalTrainerOptions {
  /**
   * Shell command line. The job file path is in `$CELLCAM_JOB`, replaces every `{job}` in the
   * command (shell-quoted), and is appended as the last argument when there is no `{job}`.
   */
  command: string;
  job: TrainerJob;
  /** Every output line (progress lines included), as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Each `PROGRESS <done>/<total> [message]` line. */
  onProgress?: (p: { done: number; total: number; message?: string }) => void;
  /** Extra environment variables for the trainer (on top of this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Aborting sends SIGTERM to the trainer (SIGKILL 5 s later) and rejects. */
  signal?: AbortSignal;
}

export interface ExternalTrainerResult {
  /** The checked model file (= job.output). */
  model: string;
  /** Wall time of the trainer process plus the checks. */
  ms: number;
  /** Path of the log with every line the trainer printed (`<workDir>/trainer.log`, appended per run). */
  log: string;
}

/** Required manifest columns per contract (trainers must ignore columns they do not know). */
export const TRAINER_MANIFEST_COLUMNS: Readonly<Record<TrainerContract, readonly string[]>> = Object.freeze({
  'image-classifier': Object.freeze(['ID', 'red', 'green', 'blue', 'yellow', 'labels', 'split']),
  'cell-features': Object.freeze(['ID', 'cell', 'file', 'index', 'labels', 'split']),
  'cell-crops': Object.freeze(['ID', 'cell', 'file', 'index', 'labels', 'split']),
});

/** The ORT contract a trainer's model is checked against. */
export const TRAINER_CONTRACTS: Readonly<Record<TrainerContract, OrtContract>> = Object.freeze({
  'image-classifier': IMAGE_CLASSIFIER_CONTRACT,
  'cell-features': CELL_FEATURES_CONTRACT,
  'cell-crops': CELL_CROP_CONTRACT,
});

const PROGRESS_RE = /^PROGRESS\s+(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)(?:\s+(.*?))?\s*$/;
const STDERR_TAIL = 20;

/**
 * Parses one progress line: `PROGRESS <done>/<total> [message]` (on stdout or stderr, at the
 * start of the line; done and total non-negative decimals). Returns null for any other line.
 *
 * @example
 * ```ts
 * parseProgressLine('PROGRESS 3/10 epoch 3 loss 0.41'); // { done: 3, total: 10, message: 'epoch 3 loss 0.41' }
 * ```
 */
export function parseProgressLine(line: string): { done: number; total: number; message?: string } | null {
  const m = PROGRESS_RE.exec(line);
  if (!m) return null;
  const p: { done: number; total: number; message?: string } = { done: Number(m[1]), total: Number(m[2]) };
  if (m[3]) p.message = m[3];
  return p;
}

/** Number of logits a job's model must produce. */
function logitWidth(job: TrainerJob): number {
  return job.classes.length;
}

/** Checks a job; throws TypeError/RangeError naming the field. Returns it unchanged. */
export function checkTrainerJob(job: unknown): TrainerJob {
  if (job === null || typeof job !== 'object') throw typeError('job', 'a TrainerJob object', job);
  const j = job as TrainerJob;
  if (j.version !== 1) throw rangeError('job.version', '1', j.version);
  if (j.stage !== 'train-image' && j.stage !== 'train-cell') throw rangeError('job.stage', "'train-image' or 'train-cell'", j.stage);
  const contracts: Record<TrainerStage, TrainerContract[]> = { 'train-image': ['image-classifier'], 'train-cell': ['cell-features', 'cell-crops'] };
  if (!contracts[j.stage].includes(j.contract)) throw rangeError('job.contract', `${contracts[j.stage].map((c) => `'${c}'`).join(' or ')} for stage '${j.stage}'`, j.contract);
  for (const key of ['manifest', 'output', 'workDir'] as const) {
    if (typeof j[key] !== 'string' || !isAbsolute(j[key])) throw typeError(`job.${key}`, 'an absolute path', j[key]);
  }
  if (typeof j.multiLabel !== 'boolean') throw typeError('job.multiLabel', 'a boolean', j.multiLabel);
  if (!Array.isArray(j.classes) || j.classes.some((c) => typeof c !== 'string' || c.length === 0)) throw typeError('job.classes', 'an array of class names', j.classes);
  const want = j.stage === 'train-image' ? NUM_CLASSES : j.multiLabel ? NUM_CLASSES : NUM_CLASSES + 1;
  if (j.stage === 'train-image' && !j.multiLabel) throw rangeError('job.multiLabel', 'true for an image classifier (sigmoid per class)', j.multiLabel);
  if (j.classes.length !== want) {
    throw rangeError('job.classes', `${want} names (${j.multiLabel ? 'the 19 HPA classes' : "the 19 HPA classes + 'unknown'"})`, j.classes);
  }
  if (j.inputSize !== undefined) checkInt('job.inputSize', j.inputSize, 1, 65536);
  if (j.cropSize !== undefined) checkInt('job.cropSize', j.cropSize, 1, 4096);
  if (j.hyperParameters === null || typeof j.hyperParameters !== 'object' || Array.isArray(j.hyperParameters)) {
    throw typeError('job.hyperParameters', 'an object', j.hyperParameters);
  }
  return j;
}

function shellQuote(s: string): string {
  if (process.platform === 'win32') return `"${s.replace(/"/g, '""')}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line actually run for `command` and a job path. */
export function trainerCommandLine(command: string, jobPath: string): string {
  const q = shellQuote(jobPath);
  return command.includes('{job}') ? command.split('{job}').join(q) : `${command} ${q}`;
}

function sameFile(a: Stats | null, b: Stats | null): boolean {
  return a !== null && b !== null && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Process ids below `pid` (children first found, then theirs), from /proc; [] where /proc is absent. */
function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      /* already gone */
    }
  }
}

function trainerError(message: string, cause?: unknown): CellcamError {
  return new CellcamError('CELLCAM_E_TRAINER', message, cause === undefined ? undefined : { cause });
}

function tailText(tail: { stream: string; lines: string[] }): string {
  return tail.lines.length === 0 ? ' (no output)' : `; last ${tail.stream} lines:\n${tail.lines.join('\n')}`;
}

// A shell reports a child killed by signal N as exit code 128 + N.
function exitText(code: number): string {
  const sig = code > 128 ? Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  if (!sig) return `exited with code ${code}`;
  return `exited with code ${code} (128 + ${sig}${sig === 'SIGKILL' ? ', e.g. the out-of-memory killer' : ''})`;
}

/**
 * Runs a user-supplied trainer for one stage and checks what it wrote.
 *
 * Writes `job` atomically to `<workDir>/job.json`, runs `command` through the shell with the job
 * path (see {@link ExternalTrainerOptions.command}), forwards each output line to `onLine` and to
 * `<workDir>/trainer.log`, and `PROGRESS <done>/<total> [message]` lines to `onProgress`. After
 * exit 0 it does not trust the trainer: the model must exist, be new (not the file that was
 * there before the run), load in onnxruntime, satisfy the job's contract, produce
 * `job.classes.length` logits on a zero input, and carry no cellcam metadata that contradicts the
 * job. Nothing is deleted, neither before nor after. Every failure is a CellcamError
 * CELLCAM_E_TRAINER naming the command (exit code or signal and the last 20 stderr lines) or the model.
 *
 * @example
 * ```ts
 * const { model, ms } = await runExternalTrainer({
 *   command: 'python examples/trainer/train_torch.py',
 *   job: { version: 1, stage: 'train-cell', contract: 'cell-crops', manifest: '/w/crops/manifest.csv',
 *          classes: [...HPA_CLASS_NAMES, 'unknown'], multiLabel: false, cropSize: 128,
 *          hyperParameters: { epochs: 10 }, output: '/w/cell.onnx', workDir: '/w/train-cell' },
 *   onProgress: ({ done, total, message }) => console.log(`${done}/${total} ${message ?? ''}`),
 * });
 * ```
 */
export async function runExternalTrainer(o: ExternalTrainerOptions): Promise<ExternalTrainerResult> {
  if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
  if (typeof o.command !== 'string' || o.command.trim().length === 0) throw typeError('options.command', 'a non-empty command line', o.command);
  const job = checkTrainerJob(o.job);
  if (o.onLine !== undefined && typeof o.onLine !== 'function') throw typeError('options.onLine', 'a function', o.onLine);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw typeError('options.onProgress', 'a function', o.onProgress);
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) throw typeError('options.env', 'an object of environment variables', o.env);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('options.signal', 'an AbortSignal', o.signal);
  if (!existsSync(job.manifest)) throw new CellcamError('CELLCAM_E_IO', `${job.manifest}: training manifest not found (job.manifest)`);
  o.signal?.throwIfAborted();

  const started = performance.now();
  await mkdir(job.workDir, { recursive: true });
  await mkdir(dirname(job.output), { recursive: true });
  const jobPath = join(job.workDir, 'job.json');
  await writeFileAtomic(jobPath, JSON.stringify(job, null, 2) + '\n');
  const logPath = join(job.workDir, 'trainer.log');
  const before = statOrNull(job.output);
  const commandLine = trainerCommandLine(o.command, jobPath);

  const log = createWriteStream(logPath, { flags: 'a' });
  const logClosed = new Promise<void>((resolve) => log.once('close', () => resolve()));
  log.on('error', () => undefined); // a failing log must not hide the trainer's own outcome
  log.write(`# cellcam ${new Date().toISOString()} ${job.stage} (${job.contract}): ${commandLine}\n`);

  let exit: { code: number | null; signal: NodeJS.Signals | null };
  const stderrTail: string[] = [];
  const stdoutTail: string[] = [];
  let callbackError: unknown = null;
  try {
    exit = await new Promise((resolve, reject) => {
      const child = spawn(commandLine, {
        shell: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...o.env, CELLCAM_JOB: jobPath },
      });
      let killTimer: NodeJS.Timeout | undefined;
      const stop = () => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null || killTimer) return;
        // The shell need not exec the command (dash does not): signal the trainer under it too.
        const tree = [...descendants(child.pid), child.pid];
        signalAll(tree, 'SIGTERM');
        killTimer = setTimeout(() => signalAll(tree, 'SIGKILL'), 5000);
        killTimer.unref();
      };
      const onAbort = () => stop();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.signal?.aborted) stop(); // aborted while the job file was being written

      const handle = (stream: 'stdout' | 'stderr') => (line: string) => {
        log.write(stream === 'stderr' ? `[stderr] ${line}\n` : `${line}\n`);
        const tail = stream === 'stderr' ? stderrTail : stdoutTail;
        tail.push(line);
        if (tail.length > STDERR_TAIL) tail.shift();
        if (callbackError !== null) return;
        try {
          o.onLine?.(line, stream);
          const p = parseProgressLine(line);
          if (p) o.onProgress?.(p);
        } catch (err) {
          callbackError = err;
          stop();
        }
      };
      const rlOut = createInterface({ input: child.stdout!, crlfDelay: Infinity });
      const rlErr = createInterface({ input: child.stderr!, crlfDelay: Infinity });
      rlOut.on('line', handle('stdout'));
      rlErr.on('line', handle('stderr'));
      const streamsDone = Promise.all([new Promise((r) => rlOut.once('close', r)), new Promise((r) => rlErr.once('close', r))]);

      child.once('error', (err) => {
        o.signal?.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        reject(trainerError(`cannot start the trainer \`${o.command}\`: ${err.message}`, err));
      });
      child.once('close', (code, signal) => {
        o.signal?.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        void streamsDone.then(() => resolve({ code, signal }));
      });
    });
  } finally {
    log.end();
    await logClosed;
  }

  if (callbackError !== null) throw callbackError;
  const tail = stderrTail.length > 0 ? { stream: 'stderr', lines: stderrTail } : { stream: 'stdout', lines: stdoutTail };
  if (o.signal?.aborted) throw trainerError(`the trainer \`${o.command}\` was cancelled${tailText(tail)}`, o.signal.reason);
  if (exit.signal !== null) throw trainerError(`the trainer \`${o.command}\` was killed by ${exit.signal}${tailText(tail)}`);
  if (exit.code === 127) {
    throw trainerError(`the trainer command was not found: \`${o.command}\` (the shell exited with code 127)${tailText(tail)}`);
  }
  if (exit.code === 126) throw trainerError(`the trainer command is not executable: \`${o.command}\` (the shell exited with code 126)${tailText(tail)}`);
  if (exit.code !== 0) throw trainerError(`the trainer \`${o.command}\` ${exitText(exit.code!)}${tailText(tail)}`);

  const after = statOrNull(job.output);
  if (after === null || !after.isFile() || after.size === 0) {
    throw trainerError(`the trainer \`${o.command}\` exited 0 but wrote no model at ${job.output}${after?.size === 0 ? ' (the file is empty)' : ''}`);
  }
  if (sameFile(before, after)) {
    throw trainerError(`the trainer \`${o.command}\` exited 0 but wrote no model at ${job.output} (the file there is unchanged since before the run)`);
  }
  await checkModel(o.command, job);
  return { model: job.output, ms: performance.now() - started, log: logPath };
}

function invalid(command: string, job: TrainerJob, problem: string, cause?: unknown): CellcamError {
  const p = problem.startsWith(`${job.output}: `) ? problem.slice(job.output.length + 2) : problem;
  return trainerError(`the trainer \`${command}\` wrote ${job.output} but it is not a valid model: ${p}`, cause);
}

// Loads the model as the pipeline will, runs it once on zeros, and checks its cellcam metadata.
async function checkModel(command: string, job: TrainerJob): Promise<void> {
  const bad = (problem: string, cause?: unknown) => invalid(command, job, problem, cause);
  let pool: OrtPool;
  try {
    pool = await OrtPool.create(job.output, { contract: TRAINER_CONTRACTS[job.contract], executionProviders: ['cpu'], workers: 1, intraOpNumThreads: 1 });
  } catch (err) {
    throw bad((err as Error).message, err);
  }
  try {
    const meta: Record<string, string> = {};
    try {
      const decoded = decodeOnnxModel(new Uint8Array(await readFile(job.output)));
      for (const e of (decoded.metadataProps ?? []) as { key?: string; value?: string }[]) if (e.key) meta[e.key] = e.value ?? '';
    } catch (err) {
      throw bad(`cannot read its metadata (${(err as Error).message})`, err);
    }
    const width = logitWidth(job);
    const problems = metadataProblems(job, meta);
    const input = pool.info.inputs[0];
    const logits = pool.info.outputs.find((v) => v.name === 'logits')!;
    const declared = logits.shape.length === 2 && typeof logits.shape[1] === 'number' && logits.shape[1] >= 0 ? logits.shape[1] : null;
    if (declared !== null && declared !== width) problems.push(`output 'logits' has ${declared} classes but the job has ${width} (${job.multiLabel ? 'multi-label: 19' : "single-label: 19 + 'unknown'"})`);
    const fixed = (k: number) => (input.shape.length > k && typeof input.shape[k] === 'number' && (input.shape[k] as number) >= 0 ? (input.shape[k] as number) : null);
    const num = (key: string) => (meta[key] !== undefined && /^\d+$/.test(meta[key]) ? Number(meta[key]) : null);
    if (problems.length > 0) throw bad(problems.join('; '));

    // One inference on zeros: catches models ORT loads but cannot run, and undeclared widths.
    let dims: number[] | null = null;
    if (job.contract === 'cell-features') {
      const k = fixed(1) ?? num(META.featureCount);
      if (k !== null) dims = [1, k];
    } else {
      const s = job.contract === 'cell-crops' ? (job.cropSize ?? num(META.cropSize) ?? fixed(2)) : (job.inputSize ?? num(META.inputSize) ?? fixed(2) ?? DEFAULT_INPUT_SIZE);
      if (s !== null) dims = [1, 4, s, s];
    }
    if (dims === null) return;
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    let out: Record<string, OrtTensorData>;
    try {
      out = await pool.run({ [input.name]: { dtype: 'float32', dims, data } });
    } catch (err) {
      throw bad(`inference on a zero input [${dims.join(', ')}] failed: ${(err as Error).message}`, err);
    }
    const got = out.logits.dims;
    if (got.length !== 2 || got[0] !== 1 || got[1] !== width) {
      throw bad(`output 'logits' is [${got.join(', ')}] for a zero input [${dims.join(', ')}] but [1, ${width}] is required`);
    }
    if (job.contract === 'image-classifier') {
      const cam = out.cam.dims;
      if (cam.length !== 4 || cam[0] !== 1 || cam[1] !== NUM_CLASSES || cam[2] < 1 || cam[3] < 1) {
        throw bad(`output 'cam' is [${cam.join(', ')}] for a zero input [${dims.join(', ')}] but [1, 19, h, w] is required`);
      }
    }
  } finally {
    await pool.close();
  }
}

// cellcam metadata is optional, but where present it must agree with the job.
function metadataProblems(job: TrainerJob, meta: Record<string, string>): string[] {
  const problems: string[] = [];
  const expect = (key: string, want: string | number | undefined) => {
    if (want === undefined || meta[key] === undefined) return;
    if (meta[key] !== String(want)) problems.push(`metadata ${key} is '${meta[key]}' but the job needs '${want}'`);
  };
  expect(META.kind, job.stage === 'train-image' ? 'image-classifier' : 'cell-classifier');
  if (job.contract !== 'image-classifier') expect(META.cellInput, job.contract === 'cell-crops' ? 'crops' : 'features');
  expect(META.activation, job.multiLabel ? 'sigmoid' : 'softmax');
  if (job.contract === 'image-classifier') expect(META.inputSize, job.inputSize);
  if (job.contract === 'cell-crops') expect(META.cropSize, job.cropSize);
  return problems;
}
