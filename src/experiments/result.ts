// What running an experiment gives back: its plan plus every run's record and metrics, keyed by run id.
// Tables and figures (src/report/) are pure functions of this, so they can be tested without training.
import type { RunRecord, StepLog } from '../runs/types';
import type { ExperimentPlan } from './plan';
import type { Table } from '../report/tables';
import type { ProximityPoint } from '../report/figures';
import type { Correlation, ClusterCorrelation } from '../report/stats';

export interface ExperimentResult {
  plan: ExperimentPlan;
  records: Record<string, RunRecord>;
  metrics: Record<string, StepLog[]>;
  /** Ids of the runs this call trained (the others came back finished from the run store). */
  trainedNow?: string[];
}

/** Proximity of mixtures to SFT tasks joined with the improvements they bring (notebook 06). */
export interface ProximityAnalysis {
  /** The midtraining experiment the improvements come from. */
  result: ExperimentResult;
  /** Proximity of every role/mixture to every SFT task (sim, dist, advantage). */
  proximity: Table;
  /** One row per mixture × task: advantage and relative improvement. */
  points: Table;
  pointList: ProximityPoint[];
  /** Pearson r with a Fisher-z interval (treats the cells as independent: shown for reference). */
  correlation: Correlation;
  /** Pearson and Spearman with intervals from a bootstrap over mixtures (the cells share mixtures and baselines). */
  resampled: ClusterCorrelation;
}

/** Every experiment of the paper at one preset (notebook 07). */
export interface AllResults {
  baseline: ExperimentResult;
  midtraining: ExperimentResult;
  cpt: ExperimentResult;
  timing: ExperimentResult;
  weight: ExperimentResult;
  grid: ExperimentResult;
  proximity: ProximityAnalysis;
}

export function allResults(f: AllResults): ExperimentResult[] {
  return [f.baseline, f.midtraining, f.cpt, f.timing, f.weight, f.grid];
}
