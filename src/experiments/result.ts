// What running an experiment gives back: its plan plus every run's record and metrics, keyed by run id.
// Tables and figures (src/report/) are pure functions of this, so they can be tested without training.
import type { RunRecord, StepLog } from '../runs/types';
import type { ExperimentPlan } from './plan';

export interface ExperimentResult {
  plan: ExperimentPlan;
  records: Record<string, RunRecord>;
  metrics: Record<string, StepLog[]>;
}
