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

/** Every run of the given experiments at a preset, once each, parents before children (plan order). */
export async function studyRuns(preset: PresetName, experiments: readonly ExperimentName[] = EXPERIMENT_NAMES): Promise<PlannedRun[]> {
  const seen = new Set<string>();
  const runs: PlannedRun[] = [];
  for (const name of experiments) {
    for (const r of (await experimentPlan(name, preset)).runs) {
      if (!seen.has(r.id)) { seen.add(r.id); runs.push(r); }
    }
  }
  return runs;
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
export async function workLoop(preset: PresetName, opts: { experiments?: readonly ExperimentName[]; log?: (line: string) => void; pollMs?: number } = {}): Promise<WorkLoopResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  await initBackend({ quiet: true });
  const bundle = await ensureData(preset, { quiet: true });
  const runs = await studyRuns(preset, opts.experiments);
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

/**
 * Train every run with `jobs` worker processes (each with cpus/jobs native threads unless
 * MIDTRAIN_NATIVE_THREADS is set). Resolves when all finished; rejects naming failed or blocked runs.
 */
export async function trainAll(preset: PresetName, opts: { jobs: number; experiments?: readonly ExperimentName[]; log?: (line: string) => void }): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const jobs = Math.max(1, Math.floor(opts.jobs));
  const threads = process.env.MIDTRAIN_NATIVE_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / jobs)));
  const main = path.join(__dirname, 'worker-main.js');
  const args = [main, preset, ...(opts.experiments ? [opts.experiments.join(',')] : [])];
  const runs = await studyRuns(preset, opts.experiments);
  const finishedBefore = new Set(runs.filter((r) => getRun(r.id)?.status === 'finished').map((r) => r.id));
  const t0 = Date.now();
  // The study's size and time estimate before anything trains (shared runs counted once).
  const plans = await Promise.all((opts.experiments ?? EXPERIMENT_NAMES).map((name) => experimentPlan(name, preset)));
  log(`[workers] ${preset}: ${describeCost(planCost(plans, {}, SMALL_CPU_COSTS), jobs)}`);
  log(`[workers] ${preset}: ${jobs} worker${jobs === 1 ? '' : 's'} × ${threads} thread${threads === '1' ? '' : 's'} over ${runs.length} runs`);
  const codes = await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, MIDTRAIN_NATIVE_THREADS: threads }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) log(`[worker ${k + 1}] ${l}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (c) => { if (buf.trim()) log(`[worker ${k + 1}] ${buf}`); resolve(c ?? 1); });
  })));
  const trained = runs.map((r) => getRun(r.id)).filter((rec) => rec?.status === 'finished' && !finishedBefore.has(rec.id) && rec.summary);
  if (trained.length > 0) log(`[workers] ${studyThroughput(trained.map((rec) => rec!.summary!), (Date.now() - t0) / 1000)}`);
  const bad = codes.filter((c) => c !== 0).length;
  if (bad) throw new Error(`workers: ${bad} of ${jobs} workers ended with failed or blocked runs (see the [worker n] lines above)`);
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
