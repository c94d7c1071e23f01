// How big each preset's runs are: steps, batch, evaluation and the SFT sweep (LRs × seeds).
// Presets scale sizes, never the protocol (RESEARCH.md "Scaling down"): mixture weights and start
// fractions live in definitions.ts and are the same at every preset. The few places where `tiny`
// trims the protocol to fit CI are listed in `reductions` and printed by the notebooks.
import type { PresetName, SftTaskName } from '../config';
import type { ModelConfig, OptimConfig } from '../runs/types';
import { MODEL_PRESETS } from '../model/presets';
import { chosenTokenBudget, withTokenBudget } from './budget';

export interface PretrainScale {
  /** Optimizer steps of the whole schedule; every start fraction is a fraction of this. */
  totalSteps: number;
  batchSize: number;
  microBatch: number;
  evalEvery: number;
  evalTokens: number;
  optim: OptimConfig;
  /** The pretraining seed of every run (the paper has one). */
  seed: number;
  /**
   * Further pretraining seeds for the headline comparisons only (experiments with `pretrainSeedAxis`): the
   * baseline and the code and math branches are pretrained again at each, so their in-domain cells have an
   * interval over pretraining seeds. Empty: every interval is over SFT seeds of one pretrained model.
   */
  extraSeeds: number[];
}

export interface SftScale {
  // evalTokens equals the pretraining evalTokens at every preset: the general val windows are then the same
  // tokens, so the pretrained model's final general loss is the forgetting curve's value at SFT step 0.
  epochs: number;
  batchSize: number;
  /** The LR sweep; the best LR per (model, task) cell is chosen on mean SFT val loss. */
  lrs: number[];
  seeds: number[];
  maxExamples?: number;
  evalEvery: number;
  evalTokens: number;
  /** Test examples scored for accuracy per run (see accuracyByTask and accuracySeeds). */
  accuracyExamples: number;
  /** Per-task counts replacing accuracyExamples (e.g. many for cheap sciq/gsm scoring, few for long code decoding). */
  accuracyByTask?: Partial<Record<SftTaskName, number>>;
  /**
   * Score accuracy only in runs of the first n SFT seeds (others score none): the reported Wilson interval
   * pools a cell's scored examples, so decoding is spent on more examples rather than on the same examples again.
   */
  accuracySeeds?: number;
  /**
   * SFT val loss over the first n val examples of each task (all when unset). Evaluating a task's whole val
   * split at every eval dominates a short SFT run on CPU (500 examples at small). Goes into each SFT run's
   * config (SftConfig.valExamples), so the cut is part of the run's id and of what a report records.
   */
  valExamples?: number;
  /**
   * Test examples whose SFT loss each run reports (the first n of the test split; all when unset). Every run
   * of a study scores the same items, so comparisons between models are paired over them; at small the whole
   * split (500) cost more than the run's training and its other evaluations together. In the run's config.
   */
  testExamples?: number;
  /** Everything in OptimConfig except the swept lr. */
  optim: Omit<OptimConfig, 'lr'>;
}

export interface ExperimentScale {
  preset: PresetName;
  model: ModelConfig;
  pretrain: PretrainScale;
  sft: SftScale;
  /** When set, only these SFT tasks are fine-tuned at this preset (a documented reduction). */
  sftTasks?: SftTaskName[];
  /** The timing × weight grid's axes at this preset (the full paper grid except where `reductions` says). */
  grid: { timings: number[]; weights: number[] };
  /** Honest list of how this preset departs from the paper's protocol (beyond size). */
  reductions: string[];
}

/** Paper: AdamW β 0.9/0.95, wd 0.1, 10% warmup, cosine to 1e-6, clip 1.0. Only the peak LR scales with size. */
function adamw(lr: number, minLr: number): OptimConfig {
  return { lr, minLr, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };
}

const SFT_OPTIM: Omit<OptimConfig, 'lr'> = { minLr: 1e-6, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

/** The paper's timing and weight ablation axes (start 20k/30k/40k/50k of 61k steps; w 10/30/50/80%, plus the 20% default). */
export const PAPER_TIMINGS = [0.33, 0.49, 0.66, 0.82];
export const PAPER_WEIGHTS = [0.1, 0.2, 0.3, 0.5, 0.8];

export const SCALES: Record<PresetName, ExperimentScale> = {
  // CI and notebook smoke runs: every notebook end to end in a few minutes on 2 cores. Numbers from it
  // exercise the code; they are not evidence about midtraining (60 steps of a 1.3M-param model).
  tiny: {
    preset: 'tiny',
    // Narrower and shallower than MODEL_PRESETS.tiny (same vocabulary and context): on 2 shared cores a step
    // costs per-op overhead more than FLOPs, and the whole notebook suite has to run inside `npm test`.
    model: { ...MODEL_PRESETS.tiny, dModel: 64, nLayers: 2, nHeads: 2 },
    pretrain: { totalSteps: 30, batchSize: 4, microBatch: 4, evalEvery: 10, evalTokens: 1024, optim: adamw(3e-3, 1e-5), seed: 0, extraSeeds: [] },
    sft: { epochs: 1, batchSize: 8, lrs: [1e-3], seeds: [0], maxExamples: 16, evalEvery: 2, evalTokens: 1024, accuracyExamples: 2, valExamples: 16, optim: SFT_OPTIM },
    sftTasks: ['pycode', 'gsm'],
    grid: { timings: [0.33, 0.66], weights: [0.2, 0.5] },
    reductions: [
      'Model d 64 × 2 layers (MODEL_PRESETS.tiny is d 128 × 4), 30 pretraining steps of 4 × 128 tokens.',
      'SFT on two tasks (pycode, gsm) with 1 learning rate × 1 seed, so no confidence intervals (paper: four tasks, LR sweep × 5 seeds), two steps on 16 examples (paper: 4 epochs on the full task).',
      'Accuracy on 2 test examples per run; SFT val loss on the first 16 val examples of each task.',
      'Timing × weight grid: 2 × 2 cells (start 33%/66% × weight 20%/50%) instead of 4 × 5.',
    ],
  },
  // The laptop study (~9M params). Sized from costs measured on the 2-core machine (see docs/experiments.md):
  // a pretraining step of 8 × 256 tokens, an SFT run (train + evals + greedy decoding); planCost() prints
  // the totals before anything trains. SFT evaluation and decoding, not pretraining, dominate its time.
  small: {
    preset: 'small',
    model: MODEL_PRESETS.small,
    pretrain: { totalSteps: 240, batchSize: 8, microBatch: 8, evalEvery: 40, evalTokens: 4096, optim: adamw(1e-3, 1e-5), seed: 0, extraSeeds: [1, 2] },
    sft: {
      epochs: 2, batchSize: 8, lrs: [1e-3, 3e-3, 1e-2], seeds: [0, 1, 2], maxExamples: 40, evalEvery: 5, evalTokens: 4096,
      accuracyExamples: 4, accuracyByTask: { gsm: 200, sciq: 200 }, accuracySeeds: 1, valExamples: 32, testExamples: 128, optim: SFT_OPTIM,
    },
    grid: { timings: [0.33, 0.82], weights: [0.2, 0.5] },
    reductions: [
      '240 pretraining steps of 8 × 256 tokens (~0.5M tokens per full run; the paper: 61k steps of 1024 × 2048).',
      'One pretraining seed for most models; the baseline and the code and math mixtures and CPT are pretrained at 3 seeds for the headline (in-domain) comparisons.',
      'SFT: 3 learning rates × 3 seeds, 2 epochs on 40 examples per task (10 steps, evaluated at steps 5 and 10; paper: 4 epochs on the full task); the LR is chosen on SFT val loss over the first 32 val examples and the loss reported on the first 128 examples of the held-out test split (the same items for every model).',
      'Accuracy on 200 test examples for gsm and sciq and 4 for pycode and lima (long decoding), scored in the first SFT seed\'s run of each cell and LR at the main pretraining seed (Wilson intervals pool a cell\'s scored examples).',
      'Timing × weight grid: 2 × 2 cells (start 33/82% × weight 20/50%) instead of 4 × 5.',
    ],
  },
  // The paper's 70M configuration (GPU only): steps and batch as in the paper, 61,035 × 1024 × 2048 tokens.
  'pythia-70m': paperScale('pythia-70m'),
  'pythia-160m': paperScale('pythia-160m'),
  'pythia-410m': paperScale('pythia-410m'),
};

function paperScale(preset: 'pythia-70m' | 'pythia-160m' | 'pythia-410m'): ExperimentScale {
  return {
    preset,
    model: MODEL_PRESETS[preset],
    pretrain: { totalSteps: 61035, batchSize: 1024, microBatch: 16, evalEvery: 1000, evalTokens: 1 << 20, optim: adamw(3e-4, 1e-6), seed: 0, extraSeeds: [] },
    sft: { epochs: 4, batchSize: 16, lrs: [1e-5, 3e-5, 1e-4], seeds: [0, 1, 2, 3, 4], maxExamples: 10000, evalEvery: 200, evalTokens: 1 << 20, accuracyExamples: 500, optim: SFT_OPTIM },
    grid: { timings: PAPER_TIMINGS, weights: PAPER_WEIGHTS },
    reductions: [],
  };
}

/** Test examples an SFT run of this task and seed scores for accuracy. */
export function accuracyExamplesFor(s: SftScale, task: SftTaskName, seed: number): number {
  if (s.accuracySeeds !== undefined && !s.seeds.slice(0, s.accuracySeeds).includes(seed)) return 0;
  return s.accuracyByTask?.[task] ?? s.accuracyExamples;
}

/** The scale of a preset; throws one line naming the preset when it is unknown. */
export function scaleFor(preset: string): ExperimentScale {
  const s = (SCALES as Record<string, ExperimentScale>)[preset];
  if (!s) throw new Error(`experiments: unknown preset "${preset}" (known: ${Object.keys(SCALES).join(', ')})`);
  const budget = chosenTokenBudget(preset); // a data config may size the preset by tokens
  return budget ? withTokenBudget(s, budget) : s;
}
