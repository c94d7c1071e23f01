// Result tables (arquero) from an experiment's run records: the paper's metrics per model × SFT task —
// SFT loss (LR chosen on val, reported on the held-out test split), forgetting (general val loss after SFT,
// and its change over SFT), relative improvement over the baseline — as mean ± 95% t-interval over seeds
// (pretraining seeds where a cell has several, else SFT seeds), and task accuracy with a Wilson interval.
// Plain objects are computed first (testable, no expression parsing), arquero only holds and renders them.
import * as aq from 'arquero';
import type { SftTaskName } from '../config';
import type { ExperimentResult } from '../experiments/result';
import type { PlannedRun } from '../experiments/plan';
import { BASELINE } from '../experiments/plan';
import { meanCi, relativeImprovement, seedCi, seedCoverage, wilson, type MeanCi, type SeedCi } from './stats';
import { PAPER_HEADLINE, paperRelImprovement } from './paper';
import { describeTable, tableInfo, type Tabular } from './display';

export type Table = ReturnType<typeof aq.from>;

/** One finished SFT run's end-of-run numbers. */
export interface SftRunRow {
  id: string;
  model: string;
  task: SftTaskName;
  lr: number;
  seed: number;
  pretrainSeed: number;
  /** SFT val loss (what the LR is chosen on). */
  sftLoss: number;
  /** SFT loss on the held-out test split (NaN for runs that did not measure it). */
  testLoss: number;
  forgetting: number;
  /** General val loss of the parent before SFT (the pretrained model's final value). */
  before: number;
  accuracy: number;
  /** Test examples scored and answered correctly (0 scored: none). */
  scored: number;
  correct: number;
  accuracyMethod?: 'generate' | 'loglik';
}

/** Accuracy pooled over a cell's scored test examples with a Wilson interval (mean/lo/hi as proportions). */
export interface AccuracyCi extends MeanCi {
  correct: number;
  /** Examples scored, over all the cell's runs at its LR. */
  scored: number;
  /** Chance level of the task's format (sciq: 4 options → 25%), where it has one. */
  chance?: number;
  /** "at floor": nothing correct; "at chance": the interval contains the chance level — no signal either way. */
  status: 'ok' | 'at floor' | 'at chance' | 'not scored';
  method?: 'generate' | 'loglik';
}

/** Chance accuracy of a task's answer format (multiple choice); free-form tasks have none (their floor is 0). */
export const CHANCE_ACCURACY: Partial<Record<SftTaskName, number>> = { sciq: 0.25 };

/** One cell of the headline table: a model × task at its best LR, with mean and 95% CI over seeds. */
export interface SftCell {
  model: string;
  paperName: string;
  role: string;
  weight: number;
  startFraction: number;
  task: SftTaskName;
  bestLr: number;
  /** The best LR is the smallest or largest of the sweep: the sweep may not bracket the optimum. */
  lrAtEdge: boolean;
  /** Runs at the best LR (pretraining seeds × SFT seeds). */
  seeds: number;
  /** Val loss at the best LR (the selection criterion). */
  sftLoss: SeedCi;
  /** Held-out test loss at the best LR (what the tables report; NaN when the runs did not measure it). */
  testLoss: SeedCi;
  forgetting: SeedCi;
  /** General val loss after SFT − before (paired per run with its own parent). */
  forgettingChange: SeedCi;
  /** Relative improvement of the reported loss (test where measured, else val) over the baseline, paired by seed. */
  relImprovement: SeedCi;
  accuracy: AccuracyCi;
}

/** End-of-run numbers of every finished SFT run of the plan (unfinished or failed runs are skipped). */
export function sftRunRows(result: ExperimentResult): SftRunRow[] {
  const rows: SftRunRow[] = [];
  for (const r of result.plan.runs) {
    if (r.config.kind !== 'sft') continue;
    const rec = result.records[r.id];
    const s = rec?.status === 'finished' ? rec.summary : undefined;
    if (!s) continue;
    const before = result.records[r.config.parent.runId]?.summary?.finalVal.general ?? NaN;
    // Runs from before accuracy counts were recorded: the accuracy over the examples the config asked for.
    const scored = s.accuracyCounts?.n ?? (Number.isFinite(s.accuracy) ? r.config.accuracyExamples : 0);
    rows.push({
      id: r.id,
      model: r.model,
      task: r.task!,
      lr: r.lr!,
      seed: r.seed!,
      pretrainSeed: r.pretrainSeed ?? 0,
      sftLoss: s.finalVal.sft ?? NaN,
      testLoss: s.test?.sft ?? NaN,
      forgetting: s.finalVal.general ?? NaN,
      before,
      accuracy: s.accuracy ?? NaN,
      scored,
      correct: s.accuracyCounts?.correct ?? Math.round((s.accuracy ?? 0) * scored),
      ...(s.accuracyCounts ? { accuracyMethod: s.accuracyCounts.method } : {}),
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

/** Whether `lr` is the smallest or largest LR a model × task cell was swept over (with ≥ 2 LRs). */
export function lrAtEdge(rows: SftRunRow[], model: string, task: string, lr: number): boolean {
  const lrs = [...new Set(rows.filter((r) => r.model === model && r.task === task).map((r) => r.lr))].sort((a, b) => a - b);
  return lrs.length >= 2 && (lr === lrs[0] || lr === lrs[lrs.length - 1]);
}

/** The loss a table reports for a run: held-out test loss where measured, else val loss. */
export function reportedLoss(r: SftRunRow): number {
  return Number.isFinite(r.testLoss) ? r.testLoss : r.sftLoss;
}

/** Per-run values keyed for seedCi. */
export function seedValues(rows: SftRunRow[], f: (r: SftRunRow) => number): { pretrainSeed: number; sftSeed: number; value: number }[] {
  return rows.map((r) => ({ pretrainSeed: r.pretrainSeed, sftSeed: r.seed, value: f(r) }));
}

/** Accuracy of a set of runs: their scored examples pooled, Wilson 95% interval, floor and chance said. */
export function pooledAccuracy(rows: SftRunRow[], task: SftTaskName): AccuracyCi {
  const scored = rows.reduce((n, r) => n + r.scored, 0);
  const correct = rows.reduce((n, r) => n + (r.scored ? r.correct : 0), 0);
  const chance = CHANCE_ACCURACY[task];
  const method = rows.find((r) => r.accuracyMethod)?.accuracyMethod;
  const w = wilson(correct, scored);
  const status: AccuracyCi['status'] = scored === 0 ? 'not scored' : correct === 0 ? 'at floor' : chance !== undefined && w.lo <= chance && chance <= w.hi ? 'at chance' : 'ok';
  return { n: scored, mean: w.p, sd: NaN, halfWidth: (w.hi - w.lo) / 2, lo: w.lo, hi: w.hi, correct, scored, status, ...(chance !== undefined ? { chance } : {}), ...(method ? { method } : {}) };
}

/** A cell's finished runs at its best LR, or at `lr` when given (one per seed). */
export function cellRuns(rows: SftRunRow[], best: Map<string, number>, model: string, task: string, lr = bestLrOf(best, model, task)): SftRunRow[] {
  return rows.filter((r) => r.model === model && r.task === task && r.lr === lr);
}

/** A cell's SFT val loss over its run (mean over the cell's runs at each evaluated step), at its best LR. */
export interface SftConvergence { model: string; task: SftTaskName; lr: number; steps: number[]; loss: number[]; lastDrop: number; lastDropShare: number }

/**
 * Whether SFT had flattened by its last step: the fall over the last evaluated interval, and its share of the
 * whole fall since the first evaluation (NaN when the loss did not fall). Undefined with fewer than 3 evaluations.
 */
export function sftConvergence(result: ExperimentResult, model: string, task: SftTaskName): SftConvergence | undefined {
  const rows = sftRunRows(result);
  const best = bestLrs(rows);
  const lr = bestLrOf(best, model, task);
  if (lr === undefined) return undefined;
  const byStep = new Map<number, number[]>();
  for (const r of cellRuns(rows, best, model, task, lr)) {
    for (const l of result.metrics[r.id] ?? []) {
      const v = l.val?.sft;
      if (v !== undefined && Number.isFinite(v)) byStep.set(l.step, [...(byStep.get(l.step) ?? []), v]);
    }
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  if (steps.length < 3) return undefined;
  const loss = steps.map((st) => meanCi(byStep.get(st)!).mean);
  const n = loss.length;
  const lastDrop = loss[n - 2] - loss[n - 1];
  const total = loss[0] - loss[n - 1];
  return { model, task, lr, steps, loss, lastDrop, lastDropShare: total > 0 ? lastDrop / total : NaN };
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
      const key = (r: SftRunRow) => `${r.pretrainSeed}\u0000${r.seed}`;
      const base = new Map(atBest(BASELINE, task).map((r) => [key(r), reportedLoss(r)]));
      const paired = mine.filter((r) => base.has(key(r)));
      const bestLr = bestLrOf(best, m.model, task)!;
      cells.push({
        model: m.model,
        paperName: m.model === BASELINE ? 'C4-only' : m.branch?.paperName ?? (m.branch && m.branch.weight >= 1 ? 'CPT' : ''),
        role: m.branch?.role ?? 'general',
        weight: m.branch?.weight ?? 0,
        startFraction: m.branch?.startFraction ?? 0,
        task,
        bestLr,
        lrAtEdge: lrAtEdge(rows, m.model, task, bestLr),
        seeds: mine.length,
        sftLoss: seedCi(seedValues(mine, (r) => r.sftLoss)),
        testLoss: seedCi(seedValues(mine, (r) => r.testLoss)),
        forgetting: seedCi(seedValues(mine, (r) => r.forgetting)),
        forgettingChange: seedCi(seedValues(mine, (r) => r.forgetting - r.before)),
        relImprovement: seedCi(seedValues(paired, (r) => relativeImprovement(base.get(key(r))!, reportedLoss(r)))),
        accuracy: pooledAccuracy(mine, task),
      });
    }
  }
  return cells;
}

/** What a set of cells' intervals cover, in one caption: the seed unit(s), the LR choice, the loss reported, accuracy. */
export function intervalCaption(cells: SftCell[]): string {
  const units = [...new Set(cells.filter((c) => c.sftLoss.n > 0).map((c) => seedCoverage(c.sftLoss)))];
  const test = cells.some((c) => c.testLoss.n > 0);
  const edge = cells.filter((c) => c.lrAtEdge).length;
  return [
    `Each cell at the LR with the lowest mean SFT val loss${edge ? ` (“edge”: the best LR is at the end of the sweep — ${edge} cell${edge === 1 ? '' : 's'}; the optimum may lie outside it)` : ''}; ` +
      `${test ? 'SFT loss reported on the held-out test split' : 'SFT loss is the val loss it was chosen on (these runs did not measure a test split)'}.`,
    units.every((u) => u === 'one seed: no interval')
      ? 'Losses and relative improvement: one run per cell, so no interval.'
      : `Losses and relative improvement: mean ± ${units.join('; ')}${units.length > 1 ? ' (the unit differs by cell: headline cells have several pretraining seeds)' : ''}; relative improvement paired by seed with the baseline.`,
    'Accuracy: Wilson 95% interval over the test examples scored at that LR, pooled over the cell’s runs (items repeat across seeds, so it covers test-item sampling, not seeds); “at floor” = none correct, “at chance” = the interval contains the chance level (sciq: 25%).',
  ].join(' ');
}

/** Numeric headline table (for CSV and further analysis): means and CI bounds as columns. */
export function sftTable(result: ExperimentResult): Table {
  return aq.from(sftCells(result).map(flattenCell));
}

/** The same table formatted for reading: "mean ± half-width" strings, best LR, seeds. */
export function sftTableView(result: ExperimentResult): Table {
  const cells = sftCells(result);
  return withCaption(aq.from(cells.map((c) => ({
    model: c.model,
    paper: c.paperName,
    task: c.task,
    'best LR (on val)': lrText(c),
    seeds: seedsText(c.sftLoss),
    'SFT val loss': pm(c.sftLoss, 3),
    'SFT test loss': pm(c.testLoss, 3),
    'forgetting (general val loss)': pm(c.forgetting, 3),
    'forgetting change (after − before SFT)': pm(c.forgettingChange, 3),
    'rel. improvement': pm(scaleCi(c.relImprovement, 100), 1, '%'),
    accuracy: accuracyText(c.accuracy),
  }))), intervalCaption(cells));
}

/** "0.001" or "0.001 (edge)" when the best LR is at the end of the sweep. */
export function lrText(c: SftCell): string {
  return `${c.bestLr}${c.lrAtEdge ? ' (edge)' : ''}`;
}

/** "3 pre × 3 SFT" or "3 SFT": the seeds behind a cell's interval. */
export function seedsText(c: SeedCi): string {
  return c.unit === 'pretraining' ? `${c.pretrainSeeds} pre × ${c.sftSeeds} SFT` : `${c.n} SFT`;
}

/** "31.5% [25.4, 38.2] (63/200)" with "at chance" / "at floor" said, "not scored" when no example was. */
export function accuracyText(a: AccuracyCi): string {
  if (a.status === 'not scored') return 'not scored';
  const core = `${(100 * a.mean).toFixed(1)}% [${(100 * a.lo).toFixed(1)}, ${(100 * a.hi).toFixed(1)}] (${a.correct}/${a.scored}${a.method === 'loglik' ? ', option log-likelihood' : ''})`;
  return a.status === 'ok' ? core : `${core}, ${a.status}`;
}

/** Captions travel with tables (display's describeTable): a notebook's nb.table shows them under the title. */
export function withCaption(t: Table, caption: string): Table {
  return describeTable(t as unknown as Tabular, { caption }) as unknown as Table;
}

export function captionOf(t: Table): string | undefined {
  return tableInfo(t as unknown as Tabular).caption;
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
  const best = bestLrs(rows);
  const table = aq.from([...groups.values()].map((g) => {
    const ci = seedCi(seedValues(g, (r) => r.sftLoss));
    const chosen = bestLrOf(best, g[0].model, g[0].task) === g[0].lr;
    return { model: g[0].model, task: g[0].task, lr: g[0].lr, seeds: seedsText(ci), 'SFT val loss': pm(ci, 3),
      chosen: chosen ? (lrAtEdge(rows, g[0].model, g[0].task, g[0].lr) ? 'best (edge of sweep)' : 'best') : '' };
  }));
  return withCaption(table, 'Mean SFT val loss per LR (the selection criterion); ± as in the SFT cells table. “edge”: the best LR is the smallest or largest swept, so the sweep may not bracket the optimum.');
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
      'pretrain seed': r.pretrainSeed,
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

/** The grid pivot with its coverage caption. */
export function gridTableView(result: ExperimentResult, metric: 'relImprovement' | 'sftLoss' | 'forgetting' = 'relImprovement', task?: SftTaskName): Table {
  return withCaption(gridTable(result, metric, task), intervalCaption(sftCells(result).filter((c) => task === undefined || c.task === task)));
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
      'ours SFT loss (test)': ours ? round((ours.testLoss.n ? ours.testLoss : ours.sftLoss).mean, 3) : '',
      'paper forgetting': p.forgetting ?? '',
      'ours forgetting': ours ? round(ours.forgetting.mean, 3) : '',
      'paper rel. improvement %': round(100 * paperRelImprovement(p), 1),
      'ours rel. improvement %': ours ? round(100 * ours.relImprovement.mean, 1) : '',
      'ours 95% CI %': ours && Number.isFinite(ours.relImprovement.halfWidth) ? `[${round(100 * ours.relImprovement.lo, 1)}, ${round(100 * ours.relImprovement.hi, 1)}]` : '',
      'ours CI over': ours ? seedsText(ours.relImprovement) + ' seeds' : '',
      'ours accuracy': ours ? accuracyText(ours.accuracy) : '',
    };
  });
}

export function paperComparisonTable(result: ExperimentResult): Table {
  const cells = sftCells(result);
  return withCaption(aq.from(paperComparisonRows(cells)), `Paper: 410M, one pretraining run, 5 SFT seeds, no intervals given. Ours: ${intervalCaption(cells)}`);
}

function flattenCell(c: SftCell): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model: c.model, paper: c.paperName, role: c.role, weight: c.weight, start: c.startFraction, task: c.task, bestLr: c.bestLr, seeds: c.seeds,
  };
  out.lrAtEdge = c.lrAtEdge;
  out.ciUnit = c.sftLoss.unit;
  out.accuracyCorrect = c.accuracy.correct;
  out.accuracyScored = c.accuracy.scored;
  out.accuracyStatus = c.accuracy.status;
  for (const k of ['sftLoss', 'testLoss', 'forgetting', 'forgettingChange', 'relImprovement', 'accuracy'] as const) {
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
      'pretrain seed': r.pretrainSeed,
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
        experiment: r.plan.experiment.name, model: c.model, paper: c.paperName, task: c.task, 'best LR (on val)': lrText(c), seeds: seedsText(c.sftLoss),
        'SFT val loss': pm(c.sftLoss, 3), 'SFT test loss': pm(c.testLoss, 3), forgetting: pm(c.forgetting, 3), 'forgetting change': pm(c.forgettingChange, 3),
        'rel. improvement': pm(scaleCi(c.relImprovement, 100), 1, '%'), accuracy: accuracyText(c.accuracy),
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
