// Expansion of an experiment into concrete RunConfigs: one baseline, its branches, and the SFT grid
// (model × task × LR × seed), each with the id the run store will give it. Pure: no I/O, no training.
// Ids are computed before anything runs (a child's config names its parent's id), so the plan is a DAG
// whose unchanged parts keep their ids when one number changes — which is what lets runs be reused.
import type { Mixture, SftTaskName } from '../config';
import type { PretrainConfig, RunConfig, SftConfig } from '../runs/types';
import { branchLabel, experiment, allStartFractions, type BranchSpec, type BranchOverrides, type Experiment, type ExperimentName } from './definitions';
import type { ExperimentScale } from './scale';

export type RunIdFn = (config: RunConfig, dataHash: string) => string;

/** One run of a plan, with what it means for the experiment's tables. */
export interface PlannedRun {
  id: string;
  config: RunConfig;
  parentId?: string;
  /** "baseline" or the branch label (e.g. "code-w20-f10"); for SFT runs, the model it fine-tunes. */
  model: string;
  branch?: BranchSpec;
  task?: SftTaskName;
  lr?: number;
  seed?: number;
}

export interface ExperimentPlan {
  experiment: Experiment;
  scale: ExperimentScale;
  dataHash: string;
  /** Parents before children: baseline, branches, then SFT runs. */
  runs: PlannedRun[];
}

export const BASELINE = 'baseline';

/** The baseline: general data for the whole schedule, keeping a checkpoint wherever a branch may leave it. */
export function baselineConfig(scale: ExperimentScale, extraFractions: number[] = []): PretrainConfig {
  const p = scale.pretrain;
  return {
    kind: 'pretrain',
    name: `${scale.preset}/baseline`,
    preset: scale.preset,
    model: scale.model,
    optim: p.optim,
    totalSteps: p.totalSteps,
    batchSize: p.batchSize,
    microBatch: p.microBatch,
    mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    evalEvery: p.evalEvery,
    evalTokens: p.evalTokens,
    seed: p.seed,
    keepCheckpointsAt: allStartFractions([...extraFractions, ...scale.grid.timings]),
  };
}

/** The branch's mixture: general until the start, then (1 − w)·general + w·domain (CPT: domain only). */
export function branchMixture(b: BranchSpec): Mixture {
  const later = b.weight >= 1 ? { [b.role]: 1 } : { general: round6(1 - b.weight), [b.role]: b.weight };
  return [
    { fromFraction: 0, weights: { general: 1 } },
    { fromFraction: b.startFraction, weights: later },
  ];
}

/** A midtraining/CPT run: continues the baseline's schedule from its checkpoint at the start fraction. */
export function branchConfig(scale: ExperimentScale, b: BranchSpec, baselineId: string): PretrainConfig {
  const base = baselineConfig(scale);
  const { keepCheckpointsAt: _keep, ...rest } = base;
  return {
    ...rest,
    name: `${scale.preset}/${branchLabel(b)}`,
    mixture: branchMixture(b),
    parent: { runId: baselineId, atFraction: b.startFraction },
  };
}

export function sftConfig(scale: ExperimentScale, model: string, parentId: string, task: SftTaskName, lr: number, seed: number): SftConfig {
  const s = scale.sft;
  return {
    kind: 'sft',
    name: `${scale.preset}/sft-${task}-${model}-lr${lr}-s${seed}`,
    preset: scale.preset,
    task,
    parent: { runId: parentId, atFraction: 1 },
    optim: { ...s.optim, lr },
    epochs: s.epochs,
    batchSize: s.batchSize,
    ...(s.maxExamples !== undefined ? { maxExamples: s.maxExamples } : {}),
    evalEvery: s.evalEvery,
    ...(s.valExamples !== undefined ? { valExamples: s.valExamples } : {}),
    evalTokens: s.evalTokens,
    accuracyExamples: s.accuracyExamples,
    seed,
  };
}

/**
 * Expand an experiment at a scale into its runs. `runId` is the run store's id function (passed in so
 * this stays pure and testable); `overrides` change branch numbers, e.g. { code: { weight: 0.3 } }.
 */
export function planExperiment(
  exp: ExperimentName | Experiment,
  scale: ExperimentScale,
  dataHash: string,
  runId: RunIdFn,
  overrides: BranchOverrides = {},
): ExperimentPlan {
  const full = experiment(exp, overrides, scale.grid);
  const e = { ...full, sftTasks: full.sftTasks.filter((t) => !scale.sftTasks || scale.sftTasks.includes(t)) };
  const runs: PlannedRun[] = [];
  const base = baselineConfig(scale, e.branches.map((b) => b.startFraction));
  const baseId = runId(base, dataHash);
  runs.push({ id: baseId, config: base, model: BASELINE });
  const models: { model: string; id: string }[] = [{ model: BASELINE, id: baseId }];
  const seen = new Set<string>([baseId]);
  for (const b of e.branches) {
    const config = branchConfig(scale, b, baseId);
    const id = runId(config, dataHash);
    if (seen.has(id)) continue; // the same branch listed twice (e.g. a grid cell equal to another) trains once
    seen.add(id);
    runs.push({ id, config, parentId: baseId, model: branchLabel(b), branch: b });
    models.push({ model: branchLabel(b), id });
  }
  for (const m of models) {
    for (const task of e.sftTasks) {
      for (const lr of scale.sft.lrs) {
        for (const seed of scale.sft.seeds) {
          const config = sftConfig(scale, m.model, m.id, task, lr, seed);
          runs.push({ id: runId(config, dataHash), config, parentId: m.id, model: m.model, branch: runs.find((r) => r.id === m.id)?.branch, task, lr, seed });
        }
      }
    }
  }
  return { experiment: e, scale, dataHash, runs };
}

/** Tokens a plan trains on, per kind, and run counts: the honest size of an experiment before it runs. */
export interface PlanCost {
  pretrainRuns: number;
  sftRuns: number;
  /** Pretraining tokens actually trained (a branch trains only the steps after its start). */
  pretrainTokens: number;
  /** Upper bound on SFT tokens: examples × epochs × the model's context (responses are usually shorter). */
  sftTokensBound: number;
}

export function planCost(plans: ExperimentPlan[], sftExamplesPerTask: Partial<Record<SftTaskName, number>> = {}): PlanCost {
  const seen = new Set<string>();
  const cost: PlanCost = { pretrainRuns: 0, sftRuns: 0, pretrainTokens: 0, sftTokensBound: 0 };
  for (const plan of plans) {
    for (const r of plan.runs) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      const c = r.config;
      if (c.kind === 'pretrain') {
        const steps = c.totalSteps - Math.round((c.parent?.atFraction ?? 0) * c.totalSteps);
        cost.pretrainRuns++;
        cost.pretrainTokens += steps * c.batchSize * c.model.contextLength;
      } else {
        const available = sftExamplesPerTask[c.task] ?? c.maxExamples ?? 0;
        const n = Math.min(available, c.maxExamples ?? available);
        cost.sftRuns++;
        cost.sftTokensBound += n * c.epochs * plan.scale.model.contextLength;
      }
    }
  }
  return cost;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
