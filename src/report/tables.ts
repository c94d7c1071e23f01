// Result tables (arquero) from an experiment's run records: the paper's metrics per model × SFT task —
// SFT val loss, forgetting (general val loss after SFT), relative improvement over the baseline and task
// accuracy — as mean ± 95% CI over seeds at the best LR of each cell (chosen on mean SFT val loss).
// Plain objects are computed first (testable, no expression parsing), arquero only holds and renders them.
import * as aq from 'arquero';
import type { SftTaskName } from '../config';
import type { ExperimentResult } from '../experiments/result';
import type { PlannedRun } from '../experiments/plan';
import { BASELINE } from '../experiments/plan';
import { meanCi, relativeImprovement, type MeanCi } from './stats';
import { PAPER_HEADLINE, paperRelImprovement } from './paper';

export type Table = ReturnType<typeof aq.from>;

/** One finished SFT run's end-of-run numbers. */
export interface SftRunRow {
  id: string;
  model: string;
  task: SftTaskName;
  lr: number;
  seed: number;
  sftLoss: number;
  forgetting: number;
  accuracy: number;
}

/** One cell of the headline table: a model × task at its best LR, with mean and 95% CI over seeds. */
export interface SftCell {
  model: string;
  paperName: string;
  role: string;
  weight: number;
  startFraction: number;
  task: SftTaskName;
  bestLr: number;
  seeds: number;
  sftLoss: MeanCi;
  forgetting: MeanCi;
  relImprovement: MeanCi;
  accuracy: MeanCi;
}

/** End-of-run numbers of every finished SFT run of the plan (unfinished or failed runs are skipped). */
export function sftRunRows(result: ExperimentResult): SftRunRow[] {
  const rows: SftRunRow[] = [];
  for (const r of result.plan.runs) {
    if (r.config.kind !== 'sft') continue;
    const rec = result.records[r.id];
    const s = rec?.status === 'finished' ? rec.summary : undefined;
    if (!s) continue;
    rows.push({
      id: r.id,
      model: r.model,
      task: r.task!,
      lr: r.lr!,
      seed: r.seed!,
      sftLoss: s.finalVal.sft ?? NaN,
      forgetting: s.finalVal.general ?? NaN,
      accuracy: s.accuracy ?? NaN,
    });
  }
  return rows;
}

/** The LR whose mean SFT val loss over seeds is lowest, for each model × task. */
export function bestLrs(rows: SftRunRow[]): Map<string, number> {
  const byLr = new Map<string, Map<number, number[]>>();
  for (const r of rows) {
    const key = cellKey(r.model, r.task);
    if (!byLr.has(key)) byLr.set(key, new Map());
    const m = byLr.get(key)!;
    if (!m.has(r.lr)) m.set(r.lr, []);
    m.get(r.lr)!.push(r.sftLoss);
  }
  const best = new Map<string, number>();
  for (const [key, m] of byLr) {
    let bestLr = NaN;
    let bestLoss = Infinity;
    for (const [lr, losses] of [...m].sort((a, b) => a[0] - b[0])) {
      const l = meanCi(losses).mean;
      if (l < bestLoss) { bestLoss = l; bestLr = lr; }
    }
    best.set(key, bestLr);
  }
  return best;
}

/** The best LR of one model × task cell (from bestLrs), undefined when it has no finished runs. */
export function bestLrOf(best: Map<string, number>, model: string, task: string): number | undefined {
  return best.get(cellKey(model, task));
}

/** A cell's finished runs at its best LR, or at `lr` when given (one per seed). */
export function cellRuns(rows: SftRunRow[], best: Map<string, number>, model: string, task: string, lr = bestLrOf(best, model, task)): SftRunRow[] {
  return rows.filter((r) => r.model === model && r.task === task && r.lr === lr);
}

/** Change in mean relative improvement from the lowest to the highest weight among cells at one start (NaN with < 2 weights). */
export function weightGainAt(cells: SftCell[], startFraction: number): number {
  const row = cells.filter((c) => c.startFraction === startFraction).sort((a, b) => a.weight - b.weight);
  return row.length >= 2 ? row[row.length - 1].relImprovement.mean - row[0].relImprovement.mean : NaN;
}

/**
 * The headline cells. Relative improvement is paired by seed: seed s of a model against seed s of the
 * baseline on the same task (same SFT data order), each at its own best LR, then mean ± CI over seeds.
 */
export function sftCells(result: ExperimentResult): SftCell[] {
  const rows = sftRunRows(result);
  const best = bestLrs(rows);
  const atBest = (model: string, task: string) => cellRuns(rows, best, model, task);
  const cells: SftCell[] = [];
  const models = uniqueModels(result.plan.runs);
  const tasks = result.plan.experiment.sftTasks;
  for (const m of models) {
    for (const task of tasks) {
      const mine = atBest(m.model, task);
      if (mine.length === 0) continue;
      const base = new Map(atBest(BASELINE, task).map((r) => [r.seed, r.sftLoss]));
      const rel = mine.filter((r) => base.has(r.seed)).map((r) => relativeImprovement(base.get(r.seed)!, r.sftLoss));
      cells.push({
        model: m.model,
        paperName: m.model === BASELINE ? 'C4-only' : m.branch?.paperName ?? (m.branch && m.branch.weight >= 1 ? 'CPT' : ''),
        role: m.branch?.role ?? 'general',
        weight: m.branch?.weight ?? 0,
        startFraction: m.branch?.startFraction ?? 0,
        task,
        bestLr: bestLrOf(best, m.model, task)!,
        seeds: mine.length,
        sftLoss: meanCi(mine.map((r) => r.sftLoss)),
        forgetting: meanCi(mine.map((r) => r.forgetting)),
        relImprovement: meanCi(rel),
        accuracy: meanCi(mine.map((r) => r.accuracy)),
      });
    }
  }
  return cells;
}

/** Numeric headline table (for CSV and further analysis): means and CI bounds as columns. */
export function sftTable(result: ExperimentResult): Table {
  return aq.from(sftCells(result).map(flattenCell));
}

/** The same table formatted for reading: "mean ± half-width" strings, best LR, seeds. */
export function sftTableView(result: ExperimentResult): Table {
  return aq.from(sftCells(result).map((c) => ({
    model: c.model,
    paper: c.paperName,
    task: c.task,
    'best LR': c.bestLr,
    seeds: c.seeds,
    'SFT val loss': pm(c.sftLoss, 3),
    'forgetting (general val loss)': pm(c.forgetting, 3),
    'rel. improvement': pm(scaleCi(c.relImprovement, 100), 1, '%'),
    accuracy: pm(scaleCi(c.accuracy, 100), 1, '%'),
  })));
}

/** Mean SFT val loss per LR (the sweep behind "best LR"). */
export function lrSweepTable(result: ExperimentResult): Table {
  const rows = sftRunRows(result);
  const groups = new Map<string, SftRunRow[]>();
  for (const r of rows) {
    const k = `${r.model}\u0000${r.task}\u0000${r.lr}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  return aq.from([...groups.values()].map((g) => ({ model: g[0].model, task: g[0].task, lr: g[0].lr, seeds: g.length, 'SFT val loss': pm(meanCi(g.map((r) => r.sftLoss)), 3) })));
}

/** Final val loss per role of every pretraining run (baseline and branches). */
export function pretrainTable(result: ExperimentResult): Table {
  const rows: Record<string, unknown>[] = [];
  for (const r of result.plan.runs) {
    if (r.config.kind !== 'pretrain') continue;
    const rec = result.records[r.id];
    const v = rec?.summary?.finalVal ?? {};
    const row: Record<string, unknown> = {
      model: r.model,
      paper: r.model === BASELINE ? 'C4-only' : r.branch?.paperName ?? '',
      start: r.branch ? `${Math.round(r.branch.startFraction * 100)}%` : '—',
      weight: r.branch ? `${Math.round(r.branch.weight * 100)}%` : '—',
      status: rec?.status ?? 'missing',
    };
    for (const [role, loss] of Object.entries(v)) row[`val ${role}`] = round(loss as number, 3);
    rows.push(row);
  }
  return aq.from(rows);
}

/** Timing × weight pivot of one metric (rows: start fraction, columns: weight). */
export function gridTable(result: ExperimentResult, metric: 'relImprovement' | 'sftLoss' | 'forgetting' = 'relImprovement', task?: SftTaskName): Table {
  const cells = sftCells(result).filter((c) => c.model !== BASELINE && (task === undefined || c.task === task));
  const starts = [...new Set(cells.map((c) => c.startFraction))].sort((a, b) => a - b);
  const weights = [...new Set(cells.map((c) => c.weight))].sort((a, b) => a - b);
  return aq.from(starts.map((f) => {
    const row: Record<string, unknown> = { start: `${Math.round(f * 100)}%` };
    for (const w of weights) {
      const c = cells.find((x) => x.startFraction === f && x.weight === w);
      row[`w ${Math.round(w * 100)}%`] = c ? (metric === 'relImprovement' ? pm(scaleCi(c[metric], 100), 1, '%') : pm(c[metric], 3)) : '';
    }
    return row;
  }));
}

/** The paper's headline cells beside ours (same task and mixture), for the findings notebook and summary. */
export function paperComparisonRows(cells: SftCell[]): Record<string, unknown>[] {
  return PAPER_HEADLINE.map((p) => {
    const ours = cells.find((c) => c.model === p.model && c.task === p.task);
    return {
      task: p.task,
      mixture: p.mixture,
      'ours: model': p.model,
      'paper SFT loss (410M)': p.sftLoss,
      'ours SFT loss': ours ? round(ours.sftLoss.mean, 3) : '',
      'paper forgetting': p.forgetting ?? '',
      'ours forgetting': ours ? round(ours.forgetting.mean, 3) : '',
      'paper rel. improvement %': round(100 * paperRelImprovement(p), 1),
      'ours rel. improvement %': ours ? round(100 * ours.relImprovement.mean, 1) : '',
      'ours 95% CI %': ours && Number.isFinite(ours.relImprovement.halfWidth) ? `[${round(100 * ours.relImprovement.lo, 1)}, ${round(100 * ours.relImprovement.hi, 1)}]` : '',
      'ours accuracy %': ours ? round(100 * ours.accuracy.mean, 1) : '',
    };
  });
}

export function paperComparisonTable(result: ExperimentResult): Table {
  return aq.from(paperComparisonRows(sftCells(result)));
}

function flattenCell(c: SftCell): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model: c.model, paper: c.paperName, role: c.role, weight: c.weight, start: c.startFraction, task: c.task, bestLr: c.bestLr, seeds: c.seeds,
  };
  for (const k of ['sftLoss', 'forgetting', 'relImprovement', 'accuracy'] as const) {
    out[k] = c[k].mean;
    out[`${k}Lo`] = c[k].lo;
    out[`${k}Hi`] = c[k].hi;
  }
  return out;
}

function uniqueModels(runs: PlannedRun[]): PlannedRun[] {
  const seen = new Set<string>();
  return runs.filter((r) => r.config.kind === 'pretrain' && !seen.has(r.model) && seen.add(r.model));
}

function cellKey(model: string, task: string): string {
  return `${model}\u0000${task}`;
}

function scaleCi(c: MeanCi, k: number): MeanCi {
  return { ...c, mean: c.mean * k, sd: c.sd * k, halfWidth: c.halfWidth * k, lo: c.lo * k, hi: c.hi * k };
}

/** "2.264 ± 0.013" (or just the mean when there is one seed; "—" when nothing finished). */
export function pm(c: MeanCi, digits: number, unit = ''): string {
  if (!Number.isFinite(c.mean)) return '—';
  const m = c.mean.toFixed(digits) + unit;
  return Number.isFinite(c.halfWidth) ? `${m} ± ${c.halfWidth.toFixed(digits)}${unit}` : m;
}

function round(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

/** The branches of an experiment as configured: role, weight, start (fraction and step), steps trained. */
export function branchTable(result: ExperimentResult): Table {
  return aq.from(result.plan.runs.filter((r) => r.config.kind === 'pretrain').map((r) => {
    const c = r.config.kind === 'pretrain' ? r.config : undefined;
    const start = c?.parent ? Math.round(c.parent.atFraction * c.totalSteps) : 0;
    return {
      model: r.model,
      paper: r.model === BASELINE ? 'C4-only' : r.branch?.paperName ?? (r.branch && r.branch.weight >= 1 ? 'CPT' : ''),
      role: r.branch?.role ?? 'general',
      weight: r.branch ? `${round(r.branch.weight * 100, 1)}%` : '100% general',
      start: r.branch ? `${round(r.branch.startFraction * 100, 1)}%` : '0%',
      'start step': start,
      'steps trained': (c?.totalSteps ?? 0) - start,
      'run id': r.id,
    };
  }));
}

/** How a plan changes under overrides: which runs keep their ids (reused) and which get new ones (trained). */
export interface PlanDiffRow {
  run: string;
  kind: string;
  before: string;
  after: string;
}

export function planDiffTable(rows: PlanDiffRow[]): Table {
  return aq.from(rows.map((r) => ({ run: r.run, kind: r.kind, 'id now': r.before, 'id with override': r.after, 'trains again': r.before === r.after ? 'no (reused)' : 'yes' })));
}

/** The headline cells of several experiments in one table (for summary.csv / summary.md). */
export function summaryRows(results: ExperimentResult[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    for (const c of sftCells(r)) {
      const key = `${r.plan.experiment.name}\u0000${c.model}\u0000${c.task}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({
        experiment: r.plan.experiment.name, model: c.model, paper: c.paperName, task: c.task, 'best LR': c.bestLr, seeds: c.seeds,
        'SFT val loss': pm(c.sftLoss, 3), forgetting: pm(c.forgetting, 3),
        'rel. improvement': pm(scaleCi(c.relImprovement, 100), 1, '%'), accuracy: pm(scaleCi(c.accuracy, 100), 1, '%'),
      });
    }
  }
  return rows;
}

/** The data layer's proximity rows (role or paper mixture × task) as a table, closest first per task. */
export function proximityRowsTable(rows: { source: string; task: string; sim: number; dist: number; advantage: number; cosine: number; jaccard: number; jsd: number; topK: number }[]): Table {
  const sorted = [...rows].sort((a, b) => a.task.localeCompare(b.task) || a.dist - b.dist);
  return aq.from(sorted.map((r) => ({ task: r.task, source: r.source, dist: round(r.dist, 4), advantage: round(r.advantage, 4), cosine: round(r.cosine, 4), jaccard: round(r.jaccard, 4), jsd: round(r.jsd, 4), 'top-k': r.topK })));
}

/** Mixture × task points of the proximity analysis. */
export function proximityPointsTable(points: { model: string; task: string; advantage: number; improvement: number }[]): Table {
  return aq.from(points.map((p) => ({ model: p.model, task: p.task, 'proximity advantage': round(p.advantage, 4), 'rel. improvement %': round(100 * p.improvement, 2) })));
}
