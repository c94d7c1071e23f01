// The run resume.test.ts kills and resumes (shared with its child process).
import type { PretrainConfig } from '../../src/runs/types';
import { microPretrain } from './fixtures';

export function resumeConfig(): PretrainConfig {
  return microPretrain({ name: 'micro/resume', totalSteps: 40, evalEvery: 10, checkpointEvery: 4, seed: 11 });
}
