// Shared by the GPU-path tests: a small GPT, fixed batches, and a few AdamW steps of the engine's own
// training step (optimizerStep: gradients → clipping → AdamW, read by readStepStats), so backends can be
// compared loss for loss and gradient norm for gradient norm.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseWebgpu, tryWebgpuBackend } from '../../src/backend/webgpu';
import { initParams, disposeParams, type Batch } from '../../src/model/gpt';
import { AdamW } from '../../src/train/optim';
import { optimizerStep, readStepStats } from '../../src/train/pretrain';
import type { ModelConfig, OptimConfig } from '../../src/runs/types';
import { Rng } from '../../src/rng';

// Bigger than the engine's MICRO (more heads, rotary on part of each head) yet a step takes < 1 s on lavapipe.
export const CFG: ModelConfig = { vocabSize: 97, dModel: 32, nLayers: 2, nHeads: 4, contextLength: 32, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
export const OPT: OptimConfig = { lr: 3e-3, minLr: 3e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };
export const STEPS = 4;
const B = 4, T = 32;

export function batches(): Batch[] {
  const rng = new Rng(11);
  return Array.from({ length: STEPS }, () => {
    const toks = Int32Array.from({ length: B * (T + 1) }, () => Math.floor(rng.next() * CFG.vocabSize));
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      inputs.set(toks.subarray(b * (T + 1), b * (T + 1) + T), b * T);
      targets.set(toks.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
    }
    return { inputs, targets, B, T };
  });
}

/** STEPS AdamW steps from seed-42 weights; returns the loss and gradient norm of each step and tensor counts after each. */
export async function train(data: Batch[]): Promise<{ losses: number[]; gradNorms: number[]; tensors: number[]; lossScales: (number | undefined)[]; skipped: number }> {
  const params = initParams(CFG, 42);
  const opt = new AdamW(params, OPT);
  const losses: number[] = [], gradNorms: number[] = [], tensors: number[] = [], lossScales: (number | undefined)[] = [];
  let skipped = 0;
  for (const [i, batch] of data.entries()) {
    const s = await readStepStats(optimizerStep(params, CFG, opt, OPT.lr, OPT.gradClip, () => [batch], 1), 'test', i + 1);
    losses.push(s.loss);
    gradNorms.push(s.gradNorm ?? NaN);
    lossScales.push(s.lossScale);
    if (s.skipped) skipped++;
    tensors.push(tf.memory().numTensors);
  }
  opt.dispose();
  disposeParams(params);
  return { losses, gradNorms, tensors, lossScales, skipped };
}

/** Runs `body` on lavapipe's WebGPU device (the test's skip says when lavapipe is missing) and releases it after. */
export async function onLavapipe(body: () => Promise<void>): Promise<void> {
  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  try {
    await body();
  } finally {
    releaseWebgpu();
  }
}
