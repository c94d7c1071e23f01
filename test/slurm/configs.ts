// Micro run configs for the Slurm tests: a pretraining run (optionally branched from another) and an SFT run,
// parents named `id-<name>` so plans can be checked without a store.
import type { OptimConfig, PretrainConfig, SftConfig } from '../../src/runs/types';

export const optim: OptimConfig = { lr: 1e-3, minLr: 1e-5, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };

export function pre(name: string, parent?: string): PretrainConfig {
  return {
    kind: 'pretrain', name, preset: 'tiny', optim, totalSteps: 10, batchSize: 2, microBatch: 2, evalEvery: 5, evalTokens: 64, seed: 0,
    model: { vocabSize: 64, dModel: 8, nLayers: 1, nHeads: 2, contextLength: 8, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 },
    mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    ...(parent ? { parent: { runId: `id-${parent}`, atFraction: 0.5 } } : {}),
  };
}

export function sft(name: string, parent: string): SftConfig {
  return {
    kind: 'sft', name, preset: 'tiny', task: 'gsm', parent: { runId: `id-${parent}`, atFraction: 1 }, optim,
    epochs: 1, batchSize: 2, evalEvery: 5, evalTokens: 64, accuracyExamples: 4, seed: 0,
  };
}
