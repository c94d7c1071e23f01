// What running an experiment gives back: its plan plus every run's record and metrics, keyed by run id.
// Tables and figures (src/report/) are pure functions of this, so they can be tested without training;
// the analyses built from several results (proximity, all experiments) live in src/report/analysis.ts.
import type { RunRecord, StepLog } from '../runs/types';
import type { ExperimentPlan } from './plan';

export interface ExperimentResult {
  plan: ExperimentPlan;
  records: Record<string, RunRecord>;
  metrics: Record<string, StepLog[]>;
  /** Ids of the runs this call trained (the others came back finished from the run store). */
  trainedNow?: string[];
}
