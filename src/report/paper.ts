// The paper's reference numbers we compare against (Liu, Neubig, Xiong 2025; RESEARCH.md "SFT and evaluation",
// "Proximity"). Typed data, quoted, never computed: our tables put these beside our measurements (the two
// helpers at the end only relate the paper's own cells to each other).
import type { SftTaskName } from '../config';
import { BASELINE } from '../experiments/plan';
import { relativeImprovement } from './stats';

export interface PaperCell {
  task: SftTaskName;
  /** Paper's mixture name (see definitions.ts PAPER_MIXTURES.paperName); "C4-only" is the baseline. */
  mixture: string;
  /** Our model label the cell compares with ("baseline" or a branch label at the paper's weight and start). */
  model: string;
  sftLoss: number;
  /** C4 val loss after SFT (forgetting); absent where the paper's headline gives none. */
  forgetting?: number;
  size: string;
}

export const PAPER_HEADLINE: PaperCell[] = [
  { task: 'pycode', mixture: 'C4-only', model: 'baseline', sftLoss: 2.264, forgetting: 5.058, size: '410M' },
  { task: 'pycode', mixture: 'Starcoder', model: 'code-w20-f10', sftLoss: 2.091, forgetting: 4.611, size: '410M' },
  { task: 'gsm', mixture: 'C4-only', model: 'baseline', sftLoss: 0.956, forgetting: 4.937, size: '410M' },
  { task: 'gsm', mixture: 'Math', model: 'math-w12-f33', sftLoss: 0.918, forgetting: 5.038, size: '410M' },
  { task: 'lima', mixture: 'C4-only', model: 'baseline', sftLoss: 3.49, forgetting: 3.166, size: '410M' },
  { task: 'lima', mixture: 'Starcoder', model: 'code-w20-f10', sftLoss: 3.422, forgetting: 3.155, size: '410M' },
  { task: 'sciq', mixture: 'C4-only', model: 'baseline', sftLoss: 3.271, forgetting: 6.873, size: '410M' },
  { task: 'sciq', mixture: 'Math', model: 'math-w12-f33', sftLoss: 3.257, size: '410M' },
];

/** Correlation between proximity advantage and relative improvement (paper, 70M). */
export const PAPER_PROXIMITY_R = 0.869;

/** The paper's qualitative findings our ablation notebooks check. */
export const PAPER_FINDINGS = {
  timing: 'v1: earlier starts help more, and timing matters more than weight; v2: timing and weight interact (late starts tolerate less weight).',
  weight: 'v1: weight matters less than timing; v2: high weights hurt more when the start is late.',
  cpt: 'Continued pretraining (100% domain data) forgets the most general ability.',
} as const;

/** The paper's C4-only cell for a task (what its other cells are compared with). */
export function paperBaseline(task: SftTaskName): PaperCell | undefined {
  return PAPER_HEADLINE.find((p) => p.task === task && p.model === BASELINE);
}

/** The paper's relative improvement of a cell's SFT loss over C4-only on the same task (0 for C4-only itself). */
export function paperRelImprovement(cell: PaperCell): number {
  const base = paperBaseline(cell.task);
  return base ? relativeImprovement(base.sftLoss, cell.sftLoss) : NaN;
}
