// The pretraining loop (baseline, midtraining and CPT are all this loop with a different mixture/start).
// An async generator of StepLogs: the caller (the run store, a notebook, a test) drives it and decides
// what to persist; checkpoints are handed out through a callback at the steps the caller asks for.
import * as tf from '@tensorflow/tfjs';
import type { PretrainConfig, StepLog } from '../runs/types';
import { batchLoss, initParams, paramsFromArrays, paramsToArrays, disposeParams, type Params } from '../model/gpt';
import { AdamW, clipByGlobalNorm, lrAt } from './optim';
import { MixtureSampler, weightsAt, type RoleShards } from './sampler';
import { evaluateRoles, roleValBatches } from './evaluate';
import type { Checkpoint } from './checkpoint';

export interface TrainHooks {
  /** Stop after this many completed steps (default: the config's total). */
  stopAtStep?: number;
  /** Whether to hand out a checkpoint after `step` completed steps. */
  checkpointAt?: (step: number) => boolean;
  onCheckpoint?: (ck: Checkpoint) => void;
  /** Skip validation (replaying a parent's steps to materialise a checkpoint needs no curves). */
  skipEval?: boolean;
}

export interface PretrainOptions extends TrainHooks {
  /** Train/val shards per role (a DataBundle's roles fit). */
  shards: RoleShards;
  /**
   * Where to start: absent = fresh weights from the seed at step 0; a checkpoint = its weights, optimizer
   * moments and step (resume, or a branch from a parent's checkpoint).
   */
  start?: Checkpoint;
}

/** Fails with one line when a non-finite loss appears; the caller keeps the last good checkpoint. */
export class NonFiniteLossError extends Error {}

/** Gradient of the mean loss over `batchSize` sequences, accumulated over micro-batches. */
export function accumulateGrads(
  params: Params, cfg: PretrainConfig['model'], micros: () => Iterable<import('../model/gpt').Batch>, nMicro: number,
): { loss: number; grads: Record<string, tf.Tensor> } {
  const names = Object.keys(params);
  const vars = names.map((n) => params[n]);
  let acc: Record<string, tf.Tensor> | undefined;
  // Losses are summed on the device and read once per step: every read waits for the device (GPU) to drain.
  let lossSum: tf.Tensor = tf.scalar(0);
  for (const b of micros()) {
    const { value, grads } = tf.variableGrads(() => batchLoss(params, cfg, b), vars);
    const sum = tf.add(lossSum, value);
    lossSum.dispose();
    value.dispose();
    lossSum = sum;
    const byName: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => (byName[n] = grads[vars[i].name]));
    if (!acc) acc = byName;
    else {
      for (const n of names) {
        const sum = tf.add(acc[n], byName[n]);
        acc[n].dispose();
        byName[n].dispose();
        acc[n] = sum;
      }
    }
  }
  if (!acc) throw new Error('accumulateGrads: no micro-batches');
  if (nMicro > 1) {
    for (const n of names) {
      const mean = tf.div(acc[n], nMicro);
      acc[n].dispose();
      acc[n] = mean;
    }
  }
  const loss = lossSum.dataSync()[0] / nMicro;
  lossSum.dispose();
  return { loss, grads: acc };
}

export function disposeGrads(grads: Record<string, tf.Tensor>): void {
  for (const g of Object.values(grads)) g.dispose();
}

/**
 * One optimizer step, shared by pretraining and SFT: accumulate gradients over the micro-batches, stop on a
 * non-finite loss (before the weights change, so the last checkpoint stays good), clip, apply AdamW.
 */
export function optimizerStep(
  params: Params, cfg: PretrainConfig['model'], optimizer: AdamW, lr: number, gradClip: number,
  micros: () => Iterable<import('../model/gpt').Batch>, nMicro: number, what: string, stepNumber: number,
): { loss: number; gradNorm: number } {
  const { loss, grads } = accumulateGrads(params, cfg, micros, nMicro);
  if (!Number.isFinite(loss)) {
    disposeGrads(grads);
    throw new NonFiniteLossError(`non-finite ${what} loss (${loss}) at step ${stepNumber}: run stopped, last good checkpoint kept`);
  }
  const clipped = clipByGlobalNorm(grads, gradClip);
  optimizer.step(clipped.grads, lr);
  disposeGrads(clipped.grads);
  return { loss, gradNorm: clipped.norm };
}

/** Let the event loop breathe (progress bars, signals, lock heartbeats) between steps. */
export const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export async function* pretrain(config: PretrainConfig, opts: PretrainOptions): AsyncGenerator<StepLog, void> {
  const cfg = config.model;
  const T = cfg.contextLength;
  const total = config.totalSteps;
  const stop = Math.min(opts.stopAtStep ?? total, total);
  if (config.batchSize % config.microBatch !== 0) throw new Error(`batchSize: ${config.batchSize} is not a multiple of microBatch ${config.microBatch}`);
  const nMicro = config.batchSize / config.microBatch;
  const sampler = new MixtureSampler(config.mixture, total, opts.shards, T, config.seed);
  const val = opts.skipEval ? {} : roleValBatches(opts.shards, T, config.evalTokens, config.microBatch);

  const params = opts.start ? paramsFromArrays(cfg, opts.start.params) : initParams(cfg, config.seed);
  const optimizer = new AdamW(params, config.optim);
  try {
    if (opts.start?.adam) optimizer.load(opts.start.adam);
    let step = opts.start?.step ?? 0;
    let t0 = Date.now();
    while (step < stop) {
      const lr = lrAt(step, total, config.optim);
      const s = step;
      const { loss, gradNorm } = optimizerStep(params, cfg, optimizer, lr, config.optim.gradClip, function* () {
        for (let m = 0; m < nMicro; m++) yield sampler.batch(s, m, config.microBatch);
      }, nMicro, 'training', step + 1);
      step += 1;
      const now = Date.now();
      const log: StepLog = {
        step,
        tokens: step * config.batchSize * T,
        lr,
        trainLoss: loss,
        gradNorm,
        tokensPerSec: (config.batchSize * T) / Math.max(1e-3, (now - t0) / 1000),
        weights: weightsAt(config.mixture, step - 1, total),
      };
      if (!opts.skipEval && (step % config.evalEvery === 0 || step === total)) log.val = evaluateRoles(params, cfg, val);
      // The log goes out (and into metrics.jsonl) before the checkpoint: a checkpoint never runs ahead of the
      // metrics, so a run killed in between resumes from the previous checkpoint and redoes these steps.
      yield log;
      if (opts.checkpointAt?.(step)) {
        opts.onCheckpoint?.({ step, params: paramsToArrays(params), adam: optimizer.state(), sampler: { seed: config.seed, step } });
      }
      await yieldToEventLoop();
      t0 = Date.now();
    }
  } finally {
    optimizer.dispose();
    disposeParams(params);
  }
}
