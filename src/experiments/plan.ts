// Expansion of an experiment into concrete RunConfigs: one baseline, its branches, and the SFT grid
// (model × task × LR × seed), each with the id the run store will give it. Pure: no I/O, no training.
// Ids are computed before anything runs (a child's config names its parent's id), so the plan is a DAG
// whose unchanged parts keep their ids when one number changes — which is what lets runs be reused.
import type { Mixture, SftTaskName } from '../config';
import { ROLES } from '../config';
import type { PretrainConfig, RunConfig, SftConfig } from '../runs/types';
import { branchLabel, experiment, allStartFractions, DOMAIN_TASK, type BranchSpec, type BranchOverrides, type Experiment, type ExperimentName } from './definitions';
import { accuracyExamplesFor, type ExperimentScale } from './scale';

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
  /** The pretraining seed of the model (for SFT runs: of the model it fine-tunes). */
  pretrainSeed: number;
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
export function baselineConfig(scale: ExperimentScale, extraFractions: number[] = [], seed = scale.pretrain.seed): PretrainConfig {
  const p = scale.pretrain;
  return {
    kind: 'pretrain',
    name: `${scale.preset}/baseline${seedSuffix(scale, seed)}`,
    preset: scale.preset,
    model: scale.model,
    optim: p.optim,
    totalSteps: p.totalSteps,
    batchSize: p.batchSize,
    microBatch: p.microBatch,
    mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    evalEvery: p.evalEvery,
    evalTokens: p.evalTokens,
    seed,
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
export function branchConfig(scale: ExperimentScale, b: BranchSpec, baselineId: string, seed = scale.pretrain.seed): PretrainConfig {
  const base = baselineConfig(scale, [], seed);
  const { keepCheckpointsAt: _keep, ...rest } = base;
  return {
    ...rest,
    name: `${scale.preset}/${branchLabel(b)}${seedSuffix(scale, seed)}`,
    mixture: branchMixture(b),
    parent: { runId: baselineId, atFraction: b.startFraction },
  };
}

/** "-p1" on the names of runs at an extra pretraining seed (names are not hashed; the seed in the config is). */
function seedSuffix(scale: ExperimentScale, pretrainSeed: number): string {
  return pretrainSeed === scale.pretrain.seed ? '' : `-p${pretrainSeed}`;
}

export function sftConfig(scale: ExperimentScale, model: string, parentId: string, task: SftTaskName, lr: number, seed: number, pretrainSeed = scale.pretrain.seed): SftConfig {
  const s = scale.sft;
  return {
    kind: 'sft',
    name: `${scale.preset}/sft-${task}-${model}${seedSuffix(scale, pretrainSeed)}-lr${lr}-s${seed}`,
    preset: scale.preset,
    task,
    parent: { runId: parentId, atFraction: 1 },
    optim: { ...s.optim, lr },
    epochs: s.epochs,
    batchSize: s.batchSize,
    ...(s.maxExamples !== undefined ? { maxExamples: s.maxExamples } : {}),
    evalEvery: s.evalEvery,
    ...(s.valExamples !== undefined ? { valExamples: s.valExamples } : {}),
    ...(s.testExamples !== undefined ? { testExamples: s.testExamples } : {}),
    evalTokens: s.evalTokens,
    // Accuracy is scored at the main pretraining seed only: the extra seeds are there for the losses' intervals.
    accuracyExamples: pretrainSeed === scale.pretrain.seed ? accuracyExamplesFor(s, task, seed) : 0,
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
  const seen = new Set<string>();
  const seeded = (b: BranchSpec) => DOMAIN_TASK[b.role] !== undefined && (b.weight >= 1 || b.paperName !== undefined);
  const seeds = [scale.pretrain.seed, ...(e.pretrainSeedAxis ? scale.pretrain.extraSeeds : [])];
  for (const pretrainSeed of seeds) {
    const main = pretrainSeed === scale.pretrain.seed;
    // At an extra seed: only the headline models, each fine-tuned on its in-domain task(s).
    const branches = main ? e.branches : e.branches.filter(seeded);
    const tasksOf = (b?: BranchSpec): SftTaskName[] => main ? e.sftTasks
      : e.sftTasks.filter((t) => b ? DOMAIN_TASK[b.role] === t : Object.values(DOMAIN_TASK).includes(t));
    const base = baselineConfig(scale, branches.map((b) => b.startFraction), pretrainSeed);
    const baseId = runId(base, dataHash);
    runs.push({ id: baseId, config: base, model: BASELINE, pretrainSeed });
    const models: { model: string; id: string; branch?: BranchSpec }[] = [{ model: BASELINE, id: baseId }];
    seen.add(baseId);
    for (const b of branches) {
      const config = branchConfig(scale, b, baseId, pretrainSeed);
      const id = runId(config, dataHash);
      if (seen.has(id)) continue; // the same branch listed twice (e.g. a grid cell equal to another) trains once
      seen.add(id);
      runs.push({ id, config, parentId: baseId, model: branchLabel(b), branch: b, pretrainSeed });
      models.push({ model: branchLabel(b), id, branch: b });
    }
    for (const m of models) {
      for (const task of tasksOf(m.branch)) {
        for (const lr of scale.sft.lrs) {
          for (const seed of scale.sft.seeds) {
            const config = sftConfig(scale, m.model, m.id, task, lr, seed, pretrainSeed);
            runs.push({ id: runId(config, dataHash), config, parentId: m.id, model: m.model, branch: m.branch, task, lr, seed, pretrainSeed });
          }
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
  /** SFT optimizer steps and evaluations over all SFT runs. */
  sftSteps: number;
  sftEvals: number;
  /** Test examples scored for accuracy, per task. */
  accuracyExamples: Partial<Record<SftTaskName, number>>;
  /** Worker-seconds by the cost model, when one was given. */
  seconds?: { pretrain: number; sft: number; total: number };
}

/**
 * Seconds per unit of work on one thread of the 2-core machine (native backend, `small` model), from which
 * planCost estimates a study's time before anything trains. Shapes other than the small model scale only by
 * tokens here, so for other presets the estimate is rough. See docs/experiments.md for the measurements.
 */
export interface CostModel {
  /** One training step per 2,048 tokens (8 × 256), each worker on one core while another worker runs beside it. */
  stepS: number;
  /** A forward-only batch (evaluations) as a fraction of a training step on the same tokens. */
  forwardFraction: number;
  /** Test examples a run scores its loss on when its config does not cap them (the built-in tasks' test split). */
  testSplit: number;
  /** Mean padded SFT sequence length per task as a fraction of the context (batches pad to their longest). */
  sftLengthFraction: Partial<Record<SftTaskName, number>>;
  /** Seconds to score one test example per task (batched decoding to the answer line; sciq by option log-likelihood). */
  accuracyS: Partial<Record<SftTaskName, number>>;
  /** Fixed cost per SFT run: worker pick-up, data view, parent checkpoint load, final save. */
  runOverheadS: number;
}

// Calibrated on the small study's own runs with two one-thread workers on the 2-core machine (2026-12-05):
// a baseline pretraining run of 240 steps took 700 s (≈ 2.1 s a step at 965 tokens/s, plus its evaluations
// and checkpoints); a pycode SFT run 101 s, of which ≈ 60 s went to the loss on all 500 test examples.
export const SMALL_CPU_COSTS: CostModel = {
  stepS: 2.1,
  forwardFraction: 0.45,
  testSplit: 500,
  sftLengthFraction: { pycode: 1, lima: 1, gsm: 0.5, sciq: 0.3 },
  // gsm and sciq: CPU seconds per example of the batched decoder (16 at a time, stopping at the answer line)
  // and of 4-option log-likelihood scoring at the small size on one thread (measured 2026-12-04 on the shared
  // machine: 0.27 and 0.19–0.24 s); pycode and lima: an estimate for decoding up to 320–400 tokens.
  accuracyS: { gsm: 0.27, sciq: 0.22, pycode: 1, lima: 1 },
  runOverheadS: 5,
};

export function planCost(plans: ExperimentPlan[], sftExamplesPerTask: Partial<Record<SftTaskName, number>> = {}, model?: CostModel): PlanCost {
  const seen = new Set<string>();
  const cost: PlanCost = { pretrainRuns: 0, sftRuns: 0, pretrainTokens: 0, sftTokensBound: 0, sftSteps: 0, sftEvals: 0, accuracyExamples: {} };
  let pretrainS = 0;
  let sftS = 0;
  for (const plan of plans) {
    for (const r of plan.runs) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      const c = r.config;
      const ctx = plan.scale.model.contextLength;
      if (c.kind === 'pretrain') {
        const steps = c.totalSteps - Math.round((c.parent?.atFraction ?? 0) * c.totalSteps);
        cost.pretrainRuns++;
        cost.pretrainTokens += steps * c.batchSize * ctx;
        if (model) {
          // Each evaluation (every evalEvery steps and the last) runs every role's val tokens forward.
          const evals = Math.ceil(steps / c.evalEvery);
          pretrainS += (steps * c.batchSize * ctx / 2048) * model.stepS + evals * (ROLES.length * c.evalTokens / 2048) * model.stepS * model.forwardFraction;
        }
      } else {
        const available = sftExamplesPerTask[c.task] ?? c.maxExamples ?? 0;
        const n = Math.min(available, c.maxExamples ?? available);
        const steps = c.epochs * Math.ceil(n / c.batchSize);
        // After the first step, every evalEvery, and the last (as src/train/sft.ts evaluates).
        const evalSteps = new Set([1, steps]);
        for (let s = c.evalEvery; s <= steps; s += c.evalEvery) evalSteps.add(s);
        const evals = evalSteps.size;
        cost.sftRuns++;
        cost.sftTokensBound += n * c.epochs * ctx;
        cost.sftSteps += steps;
        cost.sftEvals += evals;
        cost.accuracyExamples[c.task] = (cost.accuracyExamples[c.task] ?? 0) + c.accuracyExamples;
        if (model) {
          const frac = model.sftLengthFraction[c.task] ?? 1;
          const val = c.valExamples ?? 0;
          const evalTokens = Math.ceil(val / c.batchSize) * c.batchSize * ctx * frac + c.evalTokens;
          const testTokens = Math.ceil((c.testExamples ?? model.testSplit) / c.batchSize) * c.batchSize * ctx * frac;
          sftS += model.runOverheadS + steps * (c.batchSize * ctx * frac / 2048) * model.stepS +
            (evals * evalTokens + testTokens) / 2048 * model.stepS * model.forwardFraction + c.accuracyExamples * (model.accuracyS[c.task] ?? 1);
        }
      }
    }
  }
  if (model) cost.seconds = { pretrain: pretrainS, sft: sftS, total: pretrainS + sftS };
  return cost;
}

/** One paragraph a reader sees before a study trains: runs, steps, scored examples and the time estimate. */
export function describeCost(cost: PlanCost, jobs = 1): string {
  const acc = Object.entries(cost.accuracyExamples).map(([t, n]) => `${t} ${n}`).join(', ');
  const h = (sec: number) => `${(sec / 3600).toFixed(2)} h`;
  const time = cost.seconds
    ? ` Estimate: ${h(cost.seconds.pretrain)} pretraining + ${h(cost.seconds.sft)} SFT = ${h(cost.seconds.total)} of worker time, ≈ ${h(cost.seconds.total / Math.max(1, jobs))} wall with ${jobs} worker${jobs === 1 ? '' : 's'} on an idle machine (a shared one is slower).`
    : '';
  return `${cost.pretrainRuns} pretraining runs (${(cost.pretrainTokens / 1e6).toFixed(2)}M tokens), ${cost.sftRuns} SFT runs (${cost.sftSteps} steps, ${cost.sftEvals} evaluations; accuracy examples scored: ${acc || 'none'}).${time}`;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
