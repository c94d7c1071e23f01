// What the write-up reads beyond one experiment: proximity joined with the improvements it predicts, and
// every experiment of the paper at one preset. Built by src/experiments/run.ts, read by tables, agreement
// and summary; kept here so that experiments/result.ts needs nothing from the report layer.
import type { ExperimentResult } from '../experiments/result';
import type { Table } from './tables';
import type { ProximityPoint } from './figures';
import type { Correlation, ClusterCorrelation } from './stats';

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
  /** The math mixture with and without its synthetic word problems (a data check rather than a paper claim). */
  mathSynthetic: ExperimentResult;
  proximity: ProximityAnalysis;
}

export function allResults(f: AllResults): ExperimentResult[] {
  return [f.baseline, f.midtraining, f.cpt, f.timing, f.weight, f.grid, f.mathSynthetic];
}
