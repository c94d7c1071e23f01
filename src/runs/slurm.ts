// Slurm scale-out, the I/O half: submit a sweep as sbatch array jobs, read its state back from the
// run store and squeue, wait for it. Planning and script text are pure (src/runs/slurm-plan.ts).
//
// Everything lives under one folder on the shared filesystem, `<MIDTRAIN_CACHE>/slurm/`, beside the
// run store it feeds:
//   submissions/<sweep>-<time>/g<k>.sh, g<k>.<task>.json   the scripts and one config per task
//   jobs/<jobId>.json                                      ledger: which run each task of a job runs
//   logs/<jobId>_<task>.log                                 each task's output (appended across requeues)
// The ledger is what lets `status` and resubmission map squeue's tasks back to runs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cacheRoot as defaultCacheRoot, projectRoot } from '../config';
import type { RunConfig, RunStatus } from './types';
import { writeFileDurable } from '../durable';
import {
  checkSlurmResources, isActive, isRunningState, isStale, latestTasks, parseSacct, parseSbatchJobId, parseSqueue, planSlurm, sbatchScript,
  slurmRefText, SQUEUE_FORMAT,
  type LedgerEntry, type QueueTask, type RunTask, type SlurmPlan, type SlurmResources, type Sweep,
} from './slurm-plan';

import { readLedger, slurmDir, type SlurmStore } from './slurm-ledger';

export * from './slurm-plan';
export * from './slurm-ledger';

export interface SlurmContext {
  /** The run store (ids and statuses); default: the real store over each preset's data (src/runs/slurm-store.ts). */
  store?: SlurmStore;
  /** MIDTRAIN_CACHE of the array tasks, on the cluster's shared filesystem (default: this process's cacheRoot()). */
  cacheRoot?: string;
}

export interface SubmitOptions extends SlurmContext, SlurmResources {
  /** Runs one config file; default: this node binary, this checkout's dist/src/cli.js, `run`. */
  runCommand?: string[];
  /** Write the scripts and print what would be submitted, without calling sbatch. */
  dryRun?: boolean;
  /** Seconds before the time limit at which a task is told (USR1) to stop and requeue itself. */
  signalSeconds?: number;
}

export interface SubmittedJob {
  /** Slurm's array job id ("dry-run-g<k>" in a dry run). */
  jobId: string;
  group: string;
  runIds: string[];
  names: string[];
  script: string;
  dependency?: string;
}

export interface SubmitResult {
  sweep: string;
  jobs: SubmittedJob[];
  plan: SlurmPlan;
  /** Tasks cancelled because their dependency could never be met (their runs are resubmitted). */
  cancelled: string[];
}

function logPath(dir: string, ref: { jobId: string; taskId: number }): string {
  return path.join(dir, 'logs', `${slurmRefText(ref)}.log`);
}

/** Run a Slurm client command; a missing binary or failure comes back as `error`, never thrown. */
function slurmCmd(cmd: string, args: string[]): { stdout: string; error?: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: process.env, timeout: 60_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { stdout: '', error: code === 'ENOENT' ? `${cmd} not found (no Slurm client here)` : `${cmd}: ${r.error.message}` };
  }
  if (r.status !== 0) return { stdout: r.stdout, error: `${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}` };
  return { stdout: r.stdout };
}

/**
 * This user's array tasks as squeue lists them (all states MinJobAge still keeps). Plain `--format`
 * text rather than `--json`: its fields have been stable for a decade, the JSON schema changes per release.
 */
export function queryQueue(): { tasks: QueueTask[]; error?: string } {
  const r = slurmCmd('squeue', ['--array', '--noheader', '--states=all', `--user=${os.userInfo().username}`, `--format=${SQUEUE_FORMAT}`]);
  return { tasks: r.error ? [] : parseSqueue(r.stdout), ...(r.error ? { error: r.error } : {}) };
}

/**
 * The latest Slurm task of every run this cache's submissions know of, with its state: from squeue,
 * and for tasks squeue has forgotten, from sacct where accounting is on (else their state stays unknown).
 */
export function runTasks(dir: string): { tasks: Map<string, RunTask>; squeueError?: string } {
  const ledger = readLedger(dir);
  if (ledger.length === 0) return { tasks: new Map() };
  const q = queryQueue();
  let tasks = latestTasks(ledger, q.tasks);
  const forgotten = [...new Set([...tasks.values()].filter((t) => !t.state).map((t) => t.jobId))];
  if (!q.error && forgotten.length) {
    const acct = slurmCmd('sacct', ['-X', '-n', '-P', '--format=JobID,State', `--jobs=${forgotten.join(',')}`]);
    if (!acct.error) tasks = latestTasks(ledger, [...q.tasks, ...parseSacct(acct.stdout)]);
  }
  return { tasks, ...(q.error ? { squeueError: q.error } : {}) };
}

/** Write a file so readers never see half of it, durably (a submission's scripts and ledger outlive this process). */
function writeAtomic(file: string, text: string, mode?: number): void {
  writeFileDurable(file, text, mode);
}

/** The given store, or the real one (loaded lazily: it pulls in tfjs and the data layer). */
async function storeOf(sweep: Sweep, ctx: SlurmContext): Promise<SlurmStore> {
  if (ctx.store) return ctx.store;
  if (ctx.cacheRoot && path.resolve(ctx.cacheRoot) !== defaultCacheRoot()) {
    // The real store reads MIDTRAIN_CACHE; a different cacheRoot here would plan against one store and fill another.
    throw new Error(`slurm: cacheRoot ${ctx.cacheRoot} differs from the run store's (${defaultCacheRoot()}): set MIDTRAIN_CACHE instead`);
  }
  const { runStoreView } = await import('./slurm-store');
  return runStoreView(sweep.runs);
}

function defaultRunCommand(): string[] {
  return [process.execPath, path.join(projectRoot(), 'dist', 'src', 'cli.js'), 'run'];
}

/**
 * Submit the runs of `sweep` that are not finished and not already queued: one array job per plan
 * group, children waiting on their parent's task (afterok). Runs that failed, were interrupted, or
 * left the queue unfinished are submitted again; submitting a finished sweep submits nothing.
 */
export async function submitSweep(sweep: Sweep, opts: SubmitOptions = {}): Promise<SubmitResult> {
  checkSlurmResources(opts);
  const store = await storeOf(sweep, opts);
  const root = path.resolve(opts.cacheRoot ?? defaultCacheRoot());
  const dir = slurmDir(root);
  const { tasks, squeueError } = runTasks(dir);
  // Without squeue we cannot tell queued runs from lost ones; submitting anyway could double-run them.
  if (squeueError && !opts.dryRun) throw new Error(`slurm: cannot read the queue: ${squeueError}`);
  const plan = planSlurm(sweep, store, tasks);

  const cancelled: string[] = [];
  for (const ref of plan.stale) {
    const r = opts.dryRun ? { error: undefined } : slurmCmd('scancel', [slurmRefText(ref)]);
    if (r.error) throw new Error(`slurm: cannot cancel stale task ${slurmRefText(ref)}: ${r.error}`);
    cancelled.push(slurmRefText(ref));
  }

  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
  const subDir = path.join(dir, 'submissions', `${sweep.name.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${stamp}-${process.pid}`);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const jobs: SubmittedJob[] = [];
  for (const group of plan.groups) {
    group.runs.forEach((run, i) => writeAtomic(path.join(subDir, `${group.name}.${i}.json`), JSON.stringify(run.config, null, 2) + '\n'));
    let dependency: string | undefined;
    if (group.after && 'slurm' in group.after) dependency = `afterok:${slurmRefText(group.after.slurm)}`;
    else if (group.after) dependency = `afterok:${jobs[group.after.group].jobId}_${group.after.task}`;
    const script = path.join(subDir, `${group.name}.sh`);
    writeAtomic(script, sbatchScript({
      ...opts, sweep: sweep.name, group, dir: subDir, logDir, dependency, cacheRoot: root,
      runCommand: opts.runCommand ?? defaultRunCommand(),
    }), 0o755);
    let jobId = `dry-run-${group.name}`;
    if (!opts.dryRun) {
      const r = slurmCmd('sbatch', ['--parsable', script]);
      if (r.error) {
        const done = jobs.map((j) => j.jobId).join(', ') || 'none';
        throw new Error(`slurm: sbatch ${script} failed (${r.error}); jobs submitted before it: ${done}`);
      }
      jobId = parseSbatchJobId(r.stdout);
      const entry: LedgerEntry = {
        jobId, sweep: sweep.name, runIds: group.runs.map((r) => r.id), dir: subDir,
        configs: group.runs.map((_, i) => path.join(subDir, `${group.name}.${i}.json`)), submittedAt: new Date().toISOString(),
      };
      writeAtomic(path.join(dir, 'jobs', `${jobId}.json`), JSON.stringify(entry, null, 2) + '\n');
    }
    jobs.push({
      jobId, group: group.name, runIds: group.runs.map((r) => r.id), names: group.runs.map((r) => r.config.name), script,
      ...(dependency ? { dependency } : {}),
    });
  }
  return { sweep: sweep.name, jobs, plan, cancelled };
}

/** A run's state as `midtrain status` shows it: the store's word, refined by its Slurm task. */
export interface RunState {
  id: string;
  name: string;
  kind: RunConfig['kind'];
  state: RunStatus;
  /** Why: "queued (Dependency)", "slurm FAILED", "not submitted", ... */
  detail: string;
  /** `<jobId>_<task>` of the run's latest Slurm task. */
  slurm?: string;
  log?: string;
  /** Last lines of the task's log (failed runs only). */
  logTail?: string[];
}

export interface SweepStatus {
  sweep: string;
  runs: RunState[];
  counts: Record<RunStatus, number>;
  /** Set when squeue could not be read (states then come from the store alone). */
  squeueError?: string;
}

/** Last `n` lines of a file, or [] if it does not exist. Reads only the file's tail. */
export function tailLines(file: string, n = 20): string[] {
  if (!fs.existsSync(file)) return [];
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).slice(-n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Combine the store's status and the Slurm task's state into one state with a reason. */
export function resolveState(store: RunStatus | undefined, task: RunTask | undefined): { state: RunStatus; detail: string } {
  if (store === 'finished') return { state: 'finished', detail: 'finished' };
  if (isActive(task)) {
    return isRunningState(task.state)
      ? { state: 'running', detail: `slurm ${task.state}` }
      : { state: 'pending', detail: `queued (${task.reason || task.state})` };
  }
  if (isStale(task)) return { state: 'failed', detail: 'blocked: its parent failed (DependencyNeverSatisfied)' };
  if (store === 'failed') return { state: 'failed', detail: task?.state ? `failed (slurm ${task.state})` : 'failed' };
  if (task?.state === 'COMPLETED') return { state: 'failed', detail: 'slurm task completed but the store has no finished run' };
  if (task?.state) return { state: 'failed', detail: `slurm ${task.state}${task.reason && task.reason !== 'None' ? ` (${task.reason})` : ''}` };
  if (task) return { state: 'failed', detail: `slurm task ${slurmRefText(task)} ended without finishing the run` };
  if (store === 'running') return { state: 'running', detail: 'running (per the store)' };
  if (store === 'pending') return { state: 'pending', detail: 'pending in the store' };
  return { state: 'pending', detail: 'not submitted' };
}

/** Per-run state of a sweep from the run store and squeue (squeue optional: without it, the store alone). */
export async function sweepStatus(sweep: Sweep, ctx: SlurmContext = {}, tailN = 20): Promise<SweepStatus> {
  const store = await storeOf(sweep, ctx);
  const dir = slurmDir(path.resolve(ctx.cacheRoot ?? defaultCacheRoot()));
  const { tasks, squeueError } = runTasks(dir);
  const counts: Record<RunStatus, number> = { pending: 0, running: 0, finished: 0, failed: 0 };
  const seen = new Set<string>();
  const runs: RunState[] = [];
  for (const config of sweep.runs) {
    const id = store.idOf(config);
    if (seen.has(id)) continue;
    seen.add(id);
    const task = tasks.get(id);
    // Without squeue, a task's absence from the queue says nothing: the store alone decides.
    const { state, detail } = resolveState(store.statusOf(id), squeueError ? undefined : task);
    const rs: RunState = { id, name: config.name, kind: config.kind, state, detail };
    if (task) {
      rs.slurm = slurmRefText(task);
      rs.log = logPath(dir, task);
    }
    if (state === 'failed') {
      const err = store.errorOf?.(id);
      rs.logTail = [...(rs.log ? tailLines(rs.log, tailN) : []), ...(err ? [`store: ${err}`] : [])];
    }
    counts[state]++;
    runs.push(rs);
  }
  return { sweep: sweep.name, runs, counts, ...(squeueError ? { squeueError } : {}) };
}

export interface WaitOptions extends SlurmContext {
  /** Seconds between polls (default 10). */
  pollSeconds?: number;
  /** Give up after this many seconds (default: never). */
  timeoutSeconds?: number;
  /** 'first-failure' (default) resolves as soon as any run failed; 'all' waits until nothing is queued or running. */
  until?: 'first-failure' | 'all';
  /** Called after every poll (a notebook can redraw a progress table). */
  onPoll?(status: SweepStatus): void;
}

export interface WaitResult extends SweepStatus {
  /** Every run finished. */
  ok: boolean;
  timedOut: boolean;
}

/**
 * Poll until every run of the sweep finished, or (by default) any failed, or nothing is left queued
 * or running (so a sweep with unsubmitted runs cannot hang a notebook). Resolves, never rejects on
 * failed runs: partial results stay usable and `runs[].logTail` says what went wrong.
 */
export async function waitForSweep(sweep: Sweep, opts: WaitOptions = {}): Promise<WaitResult> {
  const ctx = { ...opts, store: await storeOf(sweep, opts) };
  const start = Date.now();
  const pollMs = (opts.pollSeconds ?? 10) * 1000;
  for (;;) {
    const st = await sweepStatus(sweep, ctx);
    opts.onPoll?.(st);
    const active = st.counts.running + st.runs.filter((r) => r.state === 'pending' && r.slurm && r.detail.startsWith('queued')).length;
    const ok = st.counts.finished === st.runs.length;
    const failedOut = st.counts.failed > 0 && (opts.until ?? 'first-failure') === 'first-failure';
    // An unreadable queue (controller busy, say) is no evidence that nothing is queued: keep polling.
    if (ok || failedOut || (active === 0 && !st.squeueError)) return { ...st, ok, timedOut: false };
    if (opts.timeoutSeconds !== undefined && Date.now() - start > opts.timeoutSeconds * 1000) return { ...st, ok, timedOut: true };
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** A plain-text table of a sweep's status, with the log tail of each failed run. */
export function formatSweepStatus(st: SweepStatus): string {
  const rows = st.runs.map((r) => [r.state, r.name, r.id, r.slurm ?? '-', r.detail]);
  const head = ['state', 'run', 'id', 'slurm', 'detail'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [
    `sweep ${st.sweep}: ${st.counts.finished} finished, ${st.counts.running} running, ${st.counts.pending} pending, ${st.counts.failed} failed`,
    ...(st.squeueError ? [`(squeue unavailable: ${st.squeueError}; states from the run store only)`] : []),
    line(head),
    ...rows.map(line),
  ];
  for (const r of st.runs.filter((r) => r.state === 'failed' && r.logTail?.length)) {
    out.push('', `--- ${r.name} (${r.id})${r.log ? ` ${r.log}` : ''}:`, ...r.logTail!.map((l) => `  ${l}`));
  }
  return out.join('\n');
}
