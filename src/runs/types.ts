// The contract for runs: typed configs (data, hashed into the run id), step logs, and run records.
// Implementation: src/runs/store.ts (engine). Consumers: experiments, report, CLI, Slurm.
import type { Mixture, PresetName, SftTaskName, Role } from '../config';

/** GPT-NeoX / Pythia shape. See src/model/presets.ts for named shapes. */
export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  contextLength: number;
  /** Fraction of each head's dims that get rotary embeddings (Pythia: 0.25). */
  rotaryPct: number;
  /** Rotary base (Pythia: 10000). */
  rotaryBase: number;
  /** MLP hidden size = mlpRatio * dModel (Pythia: 4). */
  mlpRatio: number;
  layerNormEps: number;
}

export interface OptimConfig {
  /** Peak learning rate after warmup (paper: 3e-4 at 70M+). */
  lr: number;
  /** Cosine floor (paper: 1e-6). */
  minLr: number;
  /** Linear warmup as a fraction of total steps (paper: 0.1). */
  warmupFraction: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay; never applied to norms and biases (paper: 0.1). */
  weightDecay: number;
  /** Global-norm gradient clipping (paper: 1.0). */
  gradClip: number;
}

/** Where a run starts from. Branching is explicit; resuming an interrupted run is not configured, it just happens. */
export interface ParentRef {
  runId: string;
  /** Fraction of the parent's total steps whose checkpoint to start from; 1 = its final weights. */
  atFraction: number;
}

export interface PretrainConfig {
  kind: 'pretrain';
  /** Human label, e.g. "tiny/midtrain-code-w20-f10"; not part of the identity. */
  name: string;
  preset: PresetName;
  model: ModelConfig;
  optim: OptimConfig;
  /** Total optimizer steps of the whole schedule (a branch continues the parent's schedule to this). */
  totalSteps: number;
  /** Sequences per optimizer step. */
  batchSize: number;
  /** Sequences per forward/backward; batchSize / microBatch gradient-accumulation steps. */
  microBatch: number;
  mixture: Mixture;
  /** Evaluate val loss on every role every this many steps (and at the end). */
  evalEvery: number;
  /** Tokens of each role's val split used per evaluation. */
  evalTokens: number;
  seed: number;
  /** Set for midtraining / CPT: start from the parent's checkpoint at parent.atFraction and continue with `mixture`. */
  parent?: ParentRef;
  /** Fractions at which to keep checkpoints for others to branch from. Operational: not part of the run id. */
  keepCheckpointsAt?: number[];
  /** Write a resumable checkpoint every this many steps (default: a tenth of the run). Operational: not part of the run id. */
  checkpointEvery?: number;
}

export interface SftConfig {
  kind: 'sft';
  name: string;
  preset: PresetName;
  task: SftTaskName;
  /** The pretrained (or midtrained) run whose final weights are fine-tuned (atFraction 1). */
  parent: ParentRef;
  optim: OptimConfig;
  epochs: number;
  batchSize: number;
  /** Cap on training examples (paper caps CodeSearchNet at 10k). */
  maxExamples?: number;
  /** Evaluate SFT val loss and general val loss (forgetting) every this many steps. */
  evalEvery: number;
  /** SFT val loss over the first n val examples; all when unset. */
  valExamples?: number;
  /** Tokens of the general val split per forgetting evaluation. */
  evalTokens: number;
  /** Test examples used for accuracy at the end (the first ones; those that do not fit the context are dropped and counted). */
  accuracyExamples: number;
  /** Test examples whose SFT loss is reported at the end (default: the whole test split). */
  testExamples?: number;
  seed: number;
  /** Write a resumable checkpoint every this many steps (default: a tenth of the run). Operational: not part of the run id. */
  checkpointEvery?: number;
}

export type RunConfig = PretrainConfig | SftConfig;

/** One line of a run's metrics.jsonl. */
export interface StepLog {
  step: number;
  tokens: number;
  lr: number;
  trainLoss: number;
  /** Global gradient norm before clipping (absent on a step skipped by loss scaling). */
  gradNorm?: number;
  /** Mixed precision only: the loss scale the step used, and `skipped` when its gradients overflowed (no update). */
  lossScale?: number;
  skipped?: boolean;
  tokensPerSec?: number;
  /** Present on evaluation steps: pretraining → val loss per role; SFT → { sft, general }. */
  val?: Partial<Record<Role | 'sft', number>>;
  /** Active mixture weights (pretraining). */
  weights?: Partial<Record<Role, number>>;
}

export type RunStatus = 'pending' | 'running' | 'finished' | 'failed';

export interface RunSummary {
  /** Final val losses: pretraining per role; SFT { sft, general }. */
  finalVal: Partial<Record<Role | 'sft', number>>;
  /** SFT only: accuracy on the test examples via the task's answer checker. */
  accuracy?: number;
  /** SFT only: what `accuracy` is made of (n = scored test examples, dropped = test examples that did not fit the context), for pooling over seeds. */
  accuracyCounts?: { correct: number; n: number; dropped: number; method: 'generate' | 'loglik' };
  /** SFT multiple choice only: accuracy with each option's log-likelihood divided by its length in bytes (lm-evaluation-harness acc_norm). */
  accuracyNormalised?: number;
  /** SFT only: SFT loss on the task's test split (held out from LR selection, which uses val). */
  test?: { sft: number; examples: number };
  wallSeconds: number;
  tokensPerSec: number;
  backend: string;
  /** The backend's own description (ISA, BLAS kernels, threads) and the CPU model the run finished on: with
   * `backend`, what `midtrain reproduce` compares to choose its tolerance. Not part of the id. */
  backendDetail?: string;
  machine?: string;
}

export interface RunRecord {
  id: string;
  config: RunConfig;
  status: RunStatus;
  dir: string;
  parentId?: string;
  /** Code version (git commit or package version) and data manifest hash it was trained with. */
  codeVersion: string;
  dataHash: string;
  summary?: RunSummary;
  error?: string;
  /** Optimizer steps done of the total, kept current while the run trains. */
  progress?: { step: number; totalSteps: number };
  /** ISO times of creation and of the last update of this record. */
  createdAt?: string;
  updatedAt?: string;
}
