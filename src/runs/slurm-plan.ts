// Slurm scale-out, the pure half: which runs of a sweep to submit, in which array jobs, waiting on
// what, and the text of each sbatch script. No I/O here (src/runs/slurm.ts does the submitting), so
// every decision is unit-tested against literal expectations (test/slurm/plan.test.ts).
//
// Shape of a submission: a sweep is a DAG (an SFT or midtraining config names its parent by
// `parent.runId`). Runs whose parent needs no waiting (none, finished in the store) form one array
// job; the children of each parent submitted here form one array job per parent, which waits on
// exactly that parent's array task (`--dependency=afterok:<job>_<task>`). Per-parent rather than
// per-level arrays because a level-wide `afterok` makes every SFT wait for the slowest pretraining
// run and lets one failed parent cancel the children of all the others; the cost is one sbatch
// call per parent with children, far below the point where sbatch's socket timeouts bite.
import type { RunConfig, RunStatus } from './types';

/** A sweep as notebooks and `midtrain sweep` define it: a named list of configs, parents by run id. */
export interface Sweep {
  name: string;
  runs: RunConfig[];
}

/** What planning needs to know about the run store. */
export interface StoreView {
  /** The run id the store gives this config (the same id children use in `parent.runId`). */
  idOf(config: RunConfig): string;
  /** The store's status of a run; undefined when the store has no record of it. */
  statusOf(id: string): RunStatus | undefined;
}

/** One array task, `<jobId>_<taskId>`. */
export interface SlurmRef {
  jobId: string;
  taskId: number;
}

/** One line of `squeue --array --format='%i|%F|%K|%T|%r'`: an array task's live state. */
export interface QueueTask extends SlurmRef {
  /** Slurm job state: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... */
  state: string;
  /** Slurm's reason for the state: None, Dependency, DependencyNeverSatisfied, Resources, ... */
  reason: string;
}

/** What one earlier submission put where: the array job `jobId` runs `runIds[i]` as task i. */
export interface LedgerEntry {
  jobId: string;
  sweep: string;
  runIds: string[];
  /** Folder with the script and the per-task config files. */
  dir: string;
  /** Task i's config file (what `midtrain status` without a sweep reads back). */
  configs: string[];
  submittedAt: string;
}

/** The Slurm task that last ran (or will run) a run, and its state if squeue still lists it. */
export interface RunTask extends SlurmRef {
  /** undefined once squeue no longer lists the job (it ended more than MinJobAge ago). */
  state?: string;
  reason?: string;
}

/** A planned run and what its array task waits for. */
export interface PlannedRun {
  id: string;
  config: RunConfig;
}

/** One array job of a plan: its runs are tasks 0..n-1, in order. */
export interface PlanGroup {
  /** `g<k>`: names the script and config files of this group. */
  name: string;
  runs: PlannedRun[];
  /** Wait for a task of an earlier group of this plan, or for a task queued by an earlier submission. */
  after?: { group: number; task: number } | { slurm: SlurmRef };
}

export interface SlurmPlan {
  /** Array jobs in submission order: a group only waits on groups before it. */
  groups: PlanGroup[];
  /** Runs not submitted: finished in the store, or already queued/running in Slurm. */
  skipped: { id: string; name: string; reason: 'finished' | 'queued'; slurm?: string }[];
  /** Tasks still pending on a dependency that can never be met (parent failed): cancel before resubmitting. */
  stale: SlurmRef[];
}

/** Slurm states in which a task may still run (or is running) the run. */
const ACTIVE_STATES = new Set([
  'PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED',
  'RESIZING', 'SUSPENDED', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'RESV_DEL_HOLD',
]);
/** Of the active states, those in which the run's process is (about to be) alive. */
const RUNNING_STATES = new Set(['RUNNING', 'CONFIGURING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'RESIZING', 'STOPPED', 'SUSPENDED']);

export function slurmRefText(ref: SlurmRef): string {
  return `${ref.jobId}_${ref.taskId}`;
}

/** True when the task may still run the run: queued, running or requeued, and not blocked forever. */
export function isActive(task: RunTask | undefined): task is RunTask & { state: string } {
  return !!task?.state && ACTIVE_STATES.has(task.state) && !isStale(task);
}

export function isRunningState(state: string): boolean {
  return RUNNING_STATES.has(state);
}

/** Pending on an afterok whose parent failed (clusters without `kill_invalid_depend` leave it so forever). */
export function isStale(task: RunTask | undefined): boolean {
  return task?.state === 'PENDING' && task.reason === 'DependencyNeverSatisfied';
}

/**
 * The latest Slurm task of every run named in the ledger, with its squeue state.
 * Latest = highest job id: job ids only grow on a cluster, so a resubmission supersedes older tasks.
 */
export function latestTasks(ledger: LedgerEntry[], queue: QueueTask[]): Map<string, RunTask> {
  const live = new Map(queue.map((q) => [slurmRefText(q), q]));
  const out = new Map<string, RunTask>();
  const byJob = [...ledger].sort((a, b) => compareJobIds(a.jobId, b.jobId));
  for (const entry of byJob) {
    entry.runIds.forEach((id, taskId) => {
      const q = live.get(`${entry.jobId}_${taskId}`);
      out.set(id, { jobId: entry.jobId, taskId, ...(q ? { state: q.state, reason: q.reason } : {}) });
    });
  }
  return out;
}

function compareJobIds(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}

/**
 * Plan a (re)submission: runs finished in the store or active in Slurm are skipped; every other run
 * (new, failed, interrupted, or gone from the queue unfinished) is submitted, after its parent.
 * Throws a one-line error when a run's parent is neither in the sweep, finished, nor queued.
 */
export function planSlurm(sweep: Sweep, store: StoreView, tasks: Map<string, RunTask> = new Map()): SlurmPlan {
  const runs = uniqueRuns(sweep, store);
  const skipped: SlurmPlan['skipped'] = [];
  const stale: SlurmRef[] = [];
  const todo: PlannedRun[] = [];
  for (const run of runs) {
    const task = tasks.get(run.id);
    if (store.statusOf(run.id) === 'finished') {
      skipped.push({ id: run.id, name: run.config.name, reason: 'finished' });
    } else if (isActive(task)) {
      skipped.push({ id: run.id, name: run.config.name, reason: 'queued', slurm: slurmRefText(task) });
    } else {
      if (isStale(task)) stale.push({ jobId: task!.jobId, taskId: task!.taskId });
      todo.push(run);
    }
  }

  // Where each run to submit waits: nowhere (root), on an in-plan parent, or on a queued task.
  const inPlan = new Set(todo.map((r) => r.id));
  const roots: PlannedRun[] = [];
  const afterQueued = new Map<string, { ref: SlurmRef; runs: PlannedRun[] }>();
  const children = new Map<string, PlannedRun[]>();
  for (const run of todo) {
    const parentId = run.config.parent?.runId;
    const parentTask = parentId === undefined ? undefined : tasks.get(parentId);
    if (parentId === undefined || store.statusOf(parentId) === 'finished') {
      roots.push(run);
    } else if (inPlan.has(parentId)) {
      children.set(parentId, [...(children.get(parentId) ?? []), run]);
    } else if (isActive(parentTask)) {
      const key = slurmRefText(parentTask);
      const entry = afterQueued.get(key) ?? { ref: { jobId: parentTask.jobId, taskId: parentTask.taskId }, runs: [] };
      entry.runs.push(run);
      afterQueued.set(key, entry);
    } else {
      throw new Error(
        `slurm: sweep "${sweep.name}": run "${run.config.name}" (${run.id}) needs parent ${parentId}, ` +
          `which is not in the sweep, not finished in the store and not queued in Slurm ` +
          `(ids computed with other data or code? regenerate the sweep)`,
      );
    }
  }

  const groups: PlanGroup[] = [];
  const addGroup = (runs: PlannedRun[], after?: PlanGroup['after']) =>
    groups.push({ name: `g${groups.length}`, runs, ...(after ? { after } : {}) });
  if (roots.length) addGroup(roots);
  for (const { ref, runs: waiting } of afterQueued.values()) addGroup(waiting, { slurm: ref });
  // Breadth-first over the DAG: a parent's group always exists before its children's group.
  for (let g = 0; g < groups.length; g++) {
    groups[g].runs.forEach((parent, task) => {
      const kids = children.get(parent.id);
      if (kids) addGroup(kids, { group: g, task });
      children.delete(parent.id);
    });
  }
  if (children.size) {
    const [orphanParent] = children.keys();
    throw new Error(`slurm: sweep "${sweep.name}": the parents of the runs waiting on ${orphanParent} form a cycle`);
  }
  return { groups, skipped, stale };
}

/** The sweep's runs with their ids, each id once (a sweep may list a shared parent twice). */
function uniqueRuns(sweep: Sweep, store: StoreView): PlannedRun[] {
  if (!sweep || typeof sweep.name !== 'string' || !Array.isArray(sweep.runs)) {
    throw new Error('slurm: a sweep is { "name": string, "runs": RunConfig[] }');
  }
  const seen = new Set<string>();
  const out: PlannedRun[] = [];
  sweep.runs.forEach((config, i) => {
    if (!config || (config.kind !== 'pretrain' && config.kind !== 'sft')) {
      throw new Error(`slurm: sweep "${sweep.name}": runs[${i}].kind must be "pretrain" or "sft"`);
    }
    const id = store.idOf(config);
    if (!seen.has(id)) out.push({ id, config });
    seen.add(id);
  });
  return out;
}

/** Resources and placement of every array task; the CLI flags of `midtrain sweep --slurm`. */
export interface SlurmResources {
  partition?: string;
  /** GPUs per run (`--gres=gpu:N`). */
  gpusPerRun?: number;
  cpusPerRun?: number;
  /** Wall-clock limit per run, Slurm syntax (e.g. "4:00:00", "2-00:00:00"). */
  time?: string;
  /** Memory per run, Slurm syntax (e.g. "16G"). */
  mem?: string;
  account?: string;
  qos?: string;
  /** At most this many tasks of one array at once (`--array=0-N%max`). */
  maxParallel?: number;
  /** Further sbatch options, verbatim (e.g. "--constraint=a100"). */
  extraSbatch?: string[];
}

/**
 * What each #SBATCH value may look like. sbatch reads these lines itself and cannot quote, and a line break
 * would end the comment and start a shell command, so anything else is rejected rather than escaped.
 */
const SBATCH_VALUE: Record<'partition' | 'account' | 'qos' | 'mem' | 'time', { re: RegExp; expected: string }> = {
  partition: { re: /^[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+-]+)*$/, expected: 'a name (or comma-separated names) of letters, digits and _.+-' },
  account: { re: /^[A-Za-z0-9_.+-]+$/, expected: 'a name of letters, digits and _.+-' },
  qos: { re: /^[A-Za-z0-9_.+-]+$/, expected: 'a name of letters, digits and _.+-' },
  mem: { re: /^\d+[KMGT]?$/i, expected: 'a size such as 16G, 500M or 16000' },
  time: { re: /^[\d:-]+$/, expected: 'M, M:S, H:M:S, D-H, D-H:M or D-H:M:S' },
};

/** An extra sbatch option: `--name` or `--name=value`, the value free of spaces, quotes, $, `, \, ; and control characters. */
const EXTRA_SBATCH = /^--[A-Za-z][A-Za-z0-9-]*(=[^\s"'`$\\;\x00-\x1f\x7f]+)?$/;

/** Check every resource option that becomes an #SBATCH line; throws one line naming the option and value. */
export function checkSlurmResources(r: SlurmResources): void {
  for (const key of Object.keys(SBATCH_VALUE) as (keyof typeof SBATCH_VALUE)[]) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !SBATCH_VALUE[key].re.test(v)) {
      throw new Error(`slurm: --${key} ${JSON.stringify(v)}: expected ${SBATCH_VALUE[key].expected}`);
    }
  }
  if (r.time !== undefined) slurmTimeSeconds(r.time);
  for (const [flag, n] of [['gpus-per-run', r.gpusPerRun], ['cpus-per-run', r.cpusPerRun], ['max-parallel', r.maxParallel]] as const) {
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new Error(`slurm: --${flag} ${JSON.stringify(n)}: expected a positive integer`);
  }
  for (const o of r.extraSbatch ?? []) {
    if (typeof o !== 'string' || !EXTRA_SBATCH.test(o)) {
      throw new Error(`slurm: --sbatch ${JSON.stringify(o)}: expected --option or --option=value, without spaces, quotes, $, backticks, \\, ; or line breaks`);
    }
  }
}

export interface ScriptInput extends SlurmResources {
  sweep: string;
  group: PlanGroup;
  /** Folder holding `<group>.<task>.json` (one config per task) and the script. */
  dir: string;
  /** Folder for the per-task logs `<jobId>_<task>.log`. */
  logDir: string;
  /** `afterok:<job>_<task>`, resolved by the submitter once the parent's job id is known. */
  dependency?: string;
  /** MIDTRAIN_CACHE for the tasks: the shared store (and data) the submitter uses. */
  cacheRoot: string;
  /** Command that runs one config file: e.g. ['/usr/bin/node', '/shared/midtrain/dist/src/cli.js', 'run']. */
  runCommand: string[];
  /** Seconds before the time limit at which Slurm warns the batch shell with USR1 (so it can requeue). */
  signalSeconds?: number;
}

/** Quote for a POSIX shell: the value comes back unchanged whatever it contains. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A Slurm job name: letters, digits and -_. only. */
function jobName(sweep: string, group: string): string {
  return `midtrain-${sweep.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${group}`;
}

/**
 * The sbatch script of one group. Task i runs `<dir>/<group>.<i>.json` through the same CLI as a
 * local run, into the shared store. Requeue-safe: `--requeue` lets Slurm requeue the task on
 * preemption or node failure; USR1 before the time limit stops the run (SIGTERM) and requeues the
 * task itself. Either way the next attempt's `run` resumes from the run's latest checkpoint, and
 * a run the store already finished returns at once. Logs append across attempts.
 */
export function sbatchScript(input: ScriptInput): string {
  const { group } = input;
  const n = group.runs.length;
  if (n === 0) throw new Error(`slurm: group ${group.name} of sweep "${input.sweep}" has no runs`);
  checkSlurmResources(input);
  if (input.dependency !== undefined && !/^afterok:[A-Za-z0-9_-]+$/.test(input.dependency)) {
    throw new Error(`slurm: dependency ${JSON.stringify(input.dependency)}: expected afterok:<job>_<task> (is a ledger file under slurm/jobs edited?)`);
  }
  for (const [what, p] of [['dir', input.dir], ['logDir', input.logDir]] as const) {
    // #SBATCH lines cannot quote, and the config path sits inside double quotes in the script.
    if (/[\s"'$`\\\x00-\x1f\x7f]/.test(p)) throw new Error(`slurm: ${what} ${JSON.stringify(p)} has spaces, quotes, $ or \\; use a MIDTRAIN_CACHE path without them`);
  }
  const signal = input.signalSeconds ?? defaultSignalSeconds(input.time);
  const throttle = input.maxParallel ? `%${input.maxParallel}` : '';
  const sb: string[] = [
    `--job-name=${jobName(input.sweep, group.name)}`,
    `--array=0-${n - 1}${throttle}`,
    `--output=${input.logDir}/%A_%a.log`,
    '--open-mode=append',
    '--requeue',
    `--signal=B:USR1@${signal}`,
    '--ntasks=1',
  ];
  if (input.cpusPerRun) sb.push(`--cpus-per-task=${input.cpusPerRun}`);
  if (input.gpusPerRun) sb.push(`--gres=gpu:${input.gpusPerRun}`);
  if (input.mem) sb.push(`--mem=${input.mem}`);
  if (input.time) sb.push(`--time=${input.time}`);
  if (input.partition) sb.push(`--partition=${input.partition}`);
  if (input.account) sb.push(`--account=${input.account}`);
  if (input.qos) sb.push(`--qos=${input.qos}`);
  if (input.dependency) sb.push(`--dependency=${input.dependency}`, '--kill-on-invalid-dep=yes');
  sb.push(...(input.extraSbatch ?? []));

  // Names are data: JSON-quoted in comments, so no character of theirs (a line break included) ends one.
  const taskList = group.runs.map((r, i) => `#   ${i}: ${JSON.stringify(String(r.config.name))} (${r.id})`);
  const cfg = `${input.dir}/${group.name}.\${SLURM_ARRAY_TASK_ID}.json`;
  return [
    '#!/bin/bash',
    ...sb.map((o) => `#SBATCH ${o}`),
    `# midtrain sweep ${JSON.stringify(input.sweep)}, group ${group.name}: ${n} run(s), written by src/runs/slurm-plan.ts.`,
    ...taskList,
    'set -euo pipefail',
    `export MIDTRAIN_CACHE=${shQuote(input.cacheRoot)}`,
    `task="\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}"`,
    `config="${cfg}"`,
    `echo "midtrain: task $task attempt \${SLURM_RESTART_COUNT:-0} on $(hostname) at $(date -u +%FT%TZ): $config"`,
    '# Near the time limit: stop the run (it resumes from its checkpoint) and requeue this task.',
    'on_usr1() {',
    '  echo "midtrain: task $task near its time limit: stopping the run and requeueing"',
    '  kill -TERM "$child" 2>/dev/null || true',
    '  wait "$child" || true',
    '  scontrol requeue "$task"',
    '  exit 0',
    '}',
    'trap on_usr1 USR1',
    `${input.runCommand.map(shQuote).join(' ')} "$config" &`,
    'child=$!',
    'wait "$child"',
    '',
  ].join('\n');
}

/** Seconds in a Slurm time ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S"); throws naming the value if malformed. */
export function slurmTimeSeconds(time: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(time);
  if (!m) throw new Error(`slurm: --time ${JSON.stringify(time)}: expected M, M:S, H:M:S, D-H, D-H:M or D-H:M:S`);
  const [d, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (d !== undefined) return d * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
  if (c !== undefined) return a! * 3600 + b! * 60 + c;
  return a! * 60 + (b ?? 0);
}

/** USR1 warning time: 5 min before the limit, but never more than a tenth of a short limit (else it fires at once). */
export function defaultSignalSeconds(time?: string): number {
  if (!time) return 300;
  return Math.max(30, Math.min(300, Math.floor(slurmTimeSeconds(time) / 10)));
}

/** The job id in `sbatch --parsable` output ("<id>" or "<id>;<cluster>"). */
export function parseSbatchJobId(stdout: string): string {
  const id = stdout.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new Error(`slurm: sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
  return id;
}

/** The squeue format `parseSqueue` reads: array job id, task id, state, reason. */
export const SQUEUE_FORMAT = '%F|%K|%T|%r';

/** Parse `squeue --array --noheader --format='%F|%K|%T|%r'`; non-array jobs (task "N/A") are not ours and are dropped. */
export function parseSqueue(stdout: string): QueueTask[] {
  const out: QueueTask[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [jobId, task, state, ...reason] = line.trim().split('|');
    if (!/^\d+$/.test(task ?? '')) continue;
    out.push({ jobId, taskId: Number(task), state, reason: reason.join('|') });
  }
  return out;
}

/**
 * Parse `sacct -X -n -P --format=JobID,State` for array tasks (`<job>_<task>|<STATE>[ by <uid>]`): where
 * accounting is on, it still knows the end state of tasks squeue forgot (MinJobAge after they ended).
 */
export function parseSacct(stdout: string): QueueTask[] {
  const out: QueueTask[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\d+)_(\d+)\|([A-Z_]+)/.exec(line.trim());
    if (m) out.push({ jobId: m[1], taskId: Number(m[2]), state: m[3], reason: 'None' });
  }
  return out;
}
