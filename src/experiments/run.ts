// The one call a notebook makes: run (or reuse) every run of an experiment, parents first, and return
// its records and metrics. Finished runs come back from the store at once, so notebooks share runs and a
// second invocation trains nothing; an interrupted run resumes. No training loop lives here — the store does it.
import type { PresetName, Role, RolePart } from '../config';
import type { RunRecord, StepLog } from '../runs/types';
import { getOrRun, readMetrics, runId } from '../runs/store';
import { ensureData } from '../data';
import { initBackend } from '../backend/choose';
import { studyProgress, type RunProgress } from '../report/display';
import { planExperiment, type ExperimentPlan } from './plan';
import { EXPERIMENT_NAMES, branchDomain, type BranchOverrides, type Experiment, type ExperimentName } from './definitions';
import { scaleFor, type ExperimentScale } from './scale';
import type { ExperimentResult } from './result';
import type { ProximityAnalysis, AllResults } from '../report/analysis';
import { normalize, shardUnigram, examplesUnigram, proximity, proximityTable } from '../data/proximity';
import { sftCells, proximityRowsTable, proximityPointsTable, type PlanDiffRow } from '../report/tables';
import type { ProximityPoint } from '../report/figures';
import { pearson, clusterBootstrapCorrelation } from '../report/stats';

export interface RunExperimentOptions {
  /** Change branch numbers, e.g. { code: { weight: 0.3 } }: only the runs they touch train. */
  overrides?: BranchOverrides;
  /** Called after each run with its index, the total and its record. */
  onRun?: (index: number, total: number, record: RunRecord) => void;
  /** Called with every step log of runs that actually train. */
  onLog?: (log: StepLog, run: string) => void;
  /** No progress display. */
  quiet?: boolean;
}

/** The plan of an experiment at a preset (ids computed with the store's runId over the preset's data). */
export async function experimentPlan(exp: ExperimentName | Experiment, preset: PresetName, overrides: BranchOverrides = {}): Promise<ExperimentPlan> {
  const bundle = await ensureData(preset, { quiet: true });
  return planExperiment(exp, scaleFor(preset), bundle.manifestHash, runId, overrides);
}

/** Every experiment's plan at a preset, e.g. for planCost before anything trains. */
export async function allPlans(preset: PresetName): Promise<ExperimentPlan[]> {
  const plans: ExperimentPlan[] = [];
  for (const name of EXPERIMENT_NAMES) plans.push(await experimentPlan(name, preset));
  return plans;
}

/** Run or reuse every run of an experiment in dependency order; returns the plan with records and metrics. */
export async function runExperiment(exp: ExperimentName | Experiment, preset: PresetName, opts: RunExperimentOptions = {}): Promise<ExperimentResult> {
  await initBackend({ quiet: true });
  const bundle = await ensureData(preset, { quiet: true });
  const plan = planExperiment(exp, scaleFor(preset), bundle.manifestHash, runId, opts.overrides);
  const records: Record<string, RunRecord> = {};
  const metrics: Record<string, StepLog[]> = {};
  const trainedNow: string[] = [];
  const bar = opts.quiet ? undefined : studyProgress(plan.runs.length, `${plan.experiment.name} (${preset})`);
  try {
    for (const [i, run] of plan.runs.entries()) {
      // The run's own line and live curve appear only if it really trains (onStart), not when it comes back from the store.
      let live: RunProgress | undefined;
      const rec = await getOrRun(run.config, {
        quiet: true, data: bundle,
        onStart: ({ totalSteps, startStep }) => { trainedNow.push(run.id); live = bar?.startRun(run.config.name, totalSteps, startStep); },
        onLog: (l: StepLog) => { live?.log(l); opts.onLog?.(l, run.config.name); },
      });
      live?.done();
      if (rec.id !== run.id) {
        throw new Error(`experiments: run "${run.config.name}" got id ${rec.id} from the store but the plan computed ${run.id} (plan and store disagree on the data hash or config)`);
      }
      if (rec.status !== 'finished') throw new Error(`experiments: run "${run.config.name}" (${rec.id}) ended ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
      records[run.id] = rec;
      metrics[run.id] = readMetrics(run.id);
      bar?.update(i + 1);
      opts.onRun?.(i, plan.runs.length, rec);
    }
  } finally {
    bar?.done();
  }
  return { plan, records, metrics, trainedNow };
}

/** How overrides change an experiment's plan: per run, its id now and with the overrides (nothing trains). */
export async function planDiff(exp: ExperimentName | Experiment, preset: PresetName, overrides: BranchOverrides): Promise<PlanDiffRow[]> {
  const before = await experimentPlan(exp, preset);
  const after = await experimentPlan(exp, preset, overrides);
  if (before.runs.length !== after.runs.length) throw new Error('experiments: planDiff needs overrides that keep the number of runs');
  return before.runs.map((r, i) => ({ run: after.runs[i].config.name, kind: r.config.kind, before: r.id, after: after.runs[i].id }));
}

/**
 * Notebook 06: the midtraining experiment's improvements joined with each mixture's proximity advantage to
 * each task. Mixtures are built at the weights the experiment actually used ((1 − w)·general + w·role), so an
 * override of a weight changes its proximity too. The data layer's table (roles and the paper's mixtures) is shown beside.
 */
export async function proximityAnalysis(preset: PresetName, opts: RunExperimentOptions = {}): Promise<ProximityAnalysis> {
  const result = await runExperiment('midtraining', preset, opts);
  const bundle = await ensureData(preset, { quiet: true });
  const V = bundle.tokenizer.vocabSize;
  const topK = Math.round(V / 8); // the data layer's choice (see src/data/proximity.ts)
  const unigram = (role: Role | RolePart) => normalize(shardUnigram((bundle.roles[role as Role] ?? bundle.parts?.[role as RolePart])!.train, V, bundle.tokenizer.eosId));
  const general = unigram('general');
  const cells = sftCells(result);
  const pointList: ProximityPoint[] = [];
  for (const run of result.plan.runs) {
    if (run.config.kind !== 'pretrain' || !run.branch || run.pretrainSeed !== result.plan.scale.pretrain.seed) continue;
    const domain = unigram(run.branch.role);
    const w = run.branch.weight;
    const mix = general.map((g, i) => (1 - w) * g + w * domain[i]);
    for (const task of result.plan.experiment.sftTasks) {
      const cell = cells.find((c) => c.model === run.model && c.task === task);
      if (!cell) continue;
      const q = examplesUnigram(bundle.sft[task].train, (s) => bundle.tokenizer.encode(s), V);
      const advantage = proximity(general, q, { topK }).dist - proximity(mix, q, { topK }).dist;
      pointList.push({ model: run.model, role: branchDomain(run.branch), task, advantage, improvement: cell.relImprovement.mean });
    }
  }
  const correlation = pearson(pointList.map((p) => p.advantage), pointList.map((p) => p.improvement));
  const resampled = clusterBootstrapCorrelation(pointList.map((p) => p.advantage), pointList.map((p) => p.improvement), pointList.map((p) => p.model));
  return {
    result,
    proximity: proximityRowsTable(proximityTable(bundle)),
    points: proximityPointsTable(pointList),
    pointList,
    correlation,
    resampled,
  };
}

/** Every experiment at a preset (notebook 07); runs shared between experiments train once. */
export async function runAll(preset: PresetName, opts: RunExperimentOptions = {}): Promise<AllResults> {
  const baseline = await runExperiment('baseline', preset, opts);
  const midtraining = await runExperiment('midtraining', preset, opts);
  const cpt = await runExperiment('cpt', preset, opts);
  const timing = await runExperiment('timing', preset, opts);
  const weight = await runExperiment('weight', preset, opts);
  const grid = await runExperiment('grid', preset, opts);
  const mathSynthetic = await runExperiment('math-synthetic-ablation', preset, opts);
  const proximity = await proximityAnalysis(preset, { ...opts, quiet: true });
  return { baseline, midtraining, cpt, timing, weight, grid, mathSynthetic, proximity };
}
