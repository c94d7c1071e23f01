// Train every run of a preset's experiments in N local worker processes before the notebooks read them
// (`npm run report -- --preset small --jobs 2`). Workers share nothing but the run store: each takes the next
// run that is unfinished, not locked by another worker, and whose parent has finished, until none is left.
// Why processes and not threads: one step of a small model is many small ops, which scale poorly over
// OpenMP threads; on the 2-core machine a small step took ≈ 1.3 s on two threads and ≈ 1.65 s on one, so two
// one-thread workers do ≈ 1.6× the work of one two-thread process (docs/experiments.md).
import { spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import type { PresetName } from '../config';
import { getOrRun, getRun, runDir } from '../runs/store';
import { lockHolder } from '../runs/lock';
import type { RunStatus } from '../runs/types';
import { ensureData } from '../data';
import { initBackend } from '../backend/choose';
import { experimentPlan } from './run';
import { planCost, describeCost, SMALL_CPU_COSTS } from './plan';
import { EXPERIMENT_NAMES, type ExperimentName } from './definitions';
import type { PlannedRun } from './plan';

/**
 * Every run of the given experiments at a preset, once each, parents before children (plan order); with
 * `maxRuns`, the first that many (every run's parent comes before it, so the cut is a study of its own).
 */
export async function studyRuns(preset: PresetName, experiments: readonly ExperimentName[] = EXPERIMENT_NAMES, maxRuns?: number): Promise<PlannedRun[]> {
  const seen = new Set<string>();
  const runs: PlannedRun[] = [];
  for (const name of experiments) {
    for (const r of (await experimentPlan(name, preset)).runs) {
      if (!seen.has(r.id)) { seen.add(r.id); runs.push(r); }
    }
  }
  return maxRuns === undefined ? runs : runs.slice(0, maxRuns);
}

export type Pick = { run: PlannedRun } | { wait: true } | { done: true } | { blocked: string[] };

/**
 * The next run a worker should take: the first unfinished, unlocked run whose parent finished (and is not
 * one this worker saw fail). Wait while others hold locks; "blocked" when nothing can ever become ready.
 */
export function pickNext(runs: PlannedRun[], status: (id: string) => RunStatus | undefined, locked: (id: string) => boolean, failed: ReadonlySet<string> = new Set()): Pick {
  const todo = runs.filter((r) => status(r.id) !== 'finished');
  if (todo.length === 0) return { done: true };
  const ready = todo.filter((r) => !failed.has(r.id) && (!r.config.parent || status(r.config.parent.runId) === 'finished'));
  const free = ready.find((r) => !locked(r.id));
  if (free) return { run: free };
  if (todo.some((r) => locked(r.id))) return { wait: true };
  return { blocked: todo.map((r) => r.config.name) };
}

export interface WorkLoopResult {
  trained: string[];
  failed: string[];
  blocked: string[];
}

/** One worker: take ready runs until every run is finished (or the rest are blocked by failures). */
export async function workLoop(preset: PresetName, opts: { experiments?: readonly ExperimentName[]; maxRuns?: number; log?: (line: string) => void; pollMs?: number } = {}): Promise<WorkLoopResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  await initBackend({ quiet: true });
  const bundle = await ensureData(preset, { quiet: true });
  const runs = await studyRuns(preset, opts.experiments, opts.maxRuns);
  const status = (id: string) => getRun(id)?.status;
  const locked = (id: string) => !!lockHolder(path.join(runDir(id), 'lock'));
  const out: WorkLoopResult = { trained: [], failed: [], blocked: [] };
  const failed = new Set<string>();
  for (;;) {
    const next = pickNext(runs, status, locked, failed);
    if ('done' in next) break;
    if ('blocked' in next) { out.blocked = next.blocked; break; }
    if ('wait' in next) { await new Promise((res) => setTimeout(res, opts.pollMs ?? 2000)); continue; }
    const r = next.run;
    const t0 = Date.now();
    try {
      // Two workers can pick the same run at once; the store's lock makes the second wait and return it.
      let stepped = false;
      const rec = await getOrRun(r.config, { quiet: true, data: bundle, onLog: () => { stepped = true; } });
      if (rec.status !== 'finished') throw new Error(`ended ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
      if (!stepped) continue;
      out.trained.push(r.config.name);
      const left = runs.filter((x) => status(x.id) !== 'finished').length;
      log(`${r.config.name} (${r.id}) finished in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${left} left`);
    } catch (e) {
      failed.add(r.id);
      out.failed.push(r.config.name);
      log(`${r.config.name} (${r.id}) FAILED: ${(e as Error).message}`);
    }
  }
  return out;
}

export interface TrainAllOptions {
  jobs: number;
  experiments?: readonly ExperimentName[];
  /** Train only the first n runs of the study (studyRuns' order). */
  maxRuns?: number;
  /** Aborting stops the workers (runs in progress are left unfinished) and resolves with what finished. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface TrainAllResult {
  /** Runs in the (capped) study, finished before this call, and trained by it. */
  runs: number;
  finishedBefore: number;
  trained: number;
  wallSeconds: number;
  /** True when the signal stopped the workers before every run finished. */
  stopped: boolean;
}

/**
 * Train every run with `jobs` worker processes (each with cpus/jobs native threads unless
 * MIDTRAIN_NATIVE_THREADS is set). Resolves when all finished, or when `signal` stops them; rejects naming
 * failed or blocked runs.
 */
export async function trainAll(preset: PresetName, opts: TrainAllOptions): Promise<TrainAllResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const jobs = Math.max(1, Math.floor(opts.jobs));
  const threads = process.env.MIDTRAIN_NATIVE_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / jobs)));
  const main = path.join(__dirname, 'worker-main.js');
  const args = [main, preset, ...(opts.experiments ? [opts.experiments.join(',')] : []), ...(opts.maxRuns !== undefined ? ['--max-runs', String(opts.maxRuns)] : [])];
  const study = await studyRuns(preset, opts.experiments);
  const runs = opts.maxRuns === undefined ? study : study.slice(0, opts.maxRuns);
  const finishedBefore = new Set(runs.filter((r) => getRun(r.id)?.status === 'finished').map((r) => r.id));
  const t0 = Date.now();
  // The study's size and time estimate before anything trains (shared runs counted once; a cap counted as cut).
  const ids = new Set(runs.map((r) => r.id));
  const plans = (await Promise.all((opts.experiments ?? EXPERIMENT_NAMES).map((name) => experimentPlan(name, preset)))).map((p) => ({ ...p, runs: p.runs.filter((r) => ids.has(r.id)) }));
  log(`[workers] ${preset}: ${describeCost(planCost(plans, {}, SMALL_CPU_COSTS), jobs)}`);
  log(`[workers] ${preset}: ${jobs} worker${jobs === 1 ? '' : 's'} × ${threads} thread${threads === '1' ? '' : 's'} over ${runs.length} runs${runs.length < study.length ? ` (the first ${runs.length} of the study's ${study.length})` : ''}`);
  const children: ReturnType<typeof spawn>[] = [];
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    log(`[workers] stopping the workers: ${runs.filter((r) => getRun(r.id)?.status === 'finished').length} of ${runs.length} runs finished`);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const codes = stopped ? [] : await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, MIDTRAIN_NATIVE_THREADS: threads, MIDTRAIN_WORKER_PARENT_PIPE: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) log(`[worker ${k + 1}] ${l}`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', reject);
    child.on('close', (c) => { if (buf.trim()) log(`[worker ${k + 1}] ${buf}`); resolve(c ?? 1); });
  })));
  opts.signal?.removeEventListener('abort', stop);
  const wallSeconds = (Date.now() - t0) / 1000;
  const trained = runs.map((r) => getRun(r.id)).filter((rec) => rec?.status === 'finished' && !finishedBefore.has(rec.id) && rec.summary);
  if (trained.length > 0) log(`[workers] ${studyThroughput(trained.map((rec) => rec!.summary!), wallSeconds)}`);
  // Stopped only if something was left: a signal that came as the last run finished changes nothing.
  const result: TrainAllResult = { runs: runs.length, finishedBefore: finishedBefore.size, trained: trained.length, wallSeconds, stopped: stopped && runs.some((r) => getRun(r.id)?.status !== 'finished') };
  if (stopped) return result; // the workers' exit codes are the signal's
  const bad = codes.filter((c) => c !== 0).length;
  if (bad) throw new Error(`workers: ${bad} of ${jobs} workers ended with failed or blocked runs (see the [worker n] lines above)`);
  return result;
}

/**
 * What a study's wall time bought: all trained runs' tokens over the wall time of the whole study, beside
 * the median single run's own tokens/s (with N workers the first exceeds the second by up to N× while the
 * device, CPU or GPU, has room to spare).
 */
export function studyThroughput(summaries: { tokensPerSec: number; wallSeconds: number }[], wallSeconds: number): string {
  const tokens = summaries.reduce((n, s) => n + s.tokensPerSec * s.wallSeconds, 0);
  const single = summaries.map((s) => s.tokensPerSec).sort((x, y) => x - y);
  const median = single.length % 2 ? single[(single.length - 1) / 2] : (single[single.length / 2 - 1] + single[single.length / 2]) / 2;
  return `study: ${summaries.length} runs trained, ${Math.round(tokens).toLocaleString('en-US')} tokens in ${wallSeconds.toFixed(1)} s of wall time = ${(tokens / wallSeconds).toFixed(0)} tokens/s over the study; one run alone ran at ${median.toFixed(0)} tokens/s (median over runs)`;
}
