// The pretraining loop (baseline, midtraining and CPT are all this loop with a different mixture/start).
// An async generator of StepLogs: the caller (the run store, a notebook, a test) drives it and decides
// what to persist; checkpoints are handed out through a callback at the steps the caller asks for.
import * as tf from '@tensorflow/tfjs';
import type { PretrainConfig, StepLog } from '../runs/types';
import { deviceRunsAhead } from '../backend/caps';
import { rowsThatFit } from '../backend/webgpu-fit';
import { onDeviceOnly, releaseStepReplay, replayFlags, replayWanted, stepWithReplay } from '../backend/webgpu-replay';
import { adamwStepUniform, adamwStepUniformBuffer, fusedAdamWAvailable } from '../backend/webgpu-adamw';
import { batchLoss, initParams, paramsFromArrays, paramsToArrays, disposeParams, type Batch, type Params } from '../model/gpt';
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
  /**
   * Steps after which the loop waits for the device before recording the next one, so that step's log comes
   * out when its work is done (a benchmark's timer start). Evaluations, checkpoints and the last step always do.
   */
  syncAt?: (step: number) => boolean;
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

/** Fails with one line when a non-finite loss appears; the run store says which checkpoint (if any) it goes on from. */
export class NonFiniteLossError extends Error {}

/**
 * Gradient of the mean loss over `batchSize` sequences, accumulated over micro-batches. The loss stays a
 * device scalar (summed on the device, never read here): every read waits for the device (GPU) to drain.
 */
export function accumulateGrads(
  params: Params, cfg: PretrainConfig['model'], micros: () => Iterable<Batch>, nMicro: number,
  lossScale?: tf.Scalar,
): { loss: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const names = Object.keys(params);
  const vars = names.map((n) => params[n]);
  let acc: Record<string, tf.Tensor> | undefined;
  let lossSum: tf.Scalar | undefined;
  for (const b of micros()) {
    // With a loss scale the gradients are the scaled loss's (the optimizer unscales); the loss kept is not scaled.
    const { value, grads } = tf.variableGrads(() => {
      const loss = b.share === undefined ? batchLoss(params, cfg, b) : tf.mul(batchLoss(params, cfg, b), b.share) as tf.Scalar;
      return lossScale ? tf.mul(loss, lossScale) as tf.Scalar : loss;
    }, vars);
    if (!lossSum) lossSum = value;
    else {
      const sum = tf.add(lossSum, value) as tf.Scalar;
      lossSum.dispose();
      value.dispose();
      lossSum = sum;
    }
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
  if (!acc || !lossSum) throw new Error('accumulateGrads: no micro-batches');
  if (lossScale) {
    const unscaled = tf.div(lossSum, lossScale) as tf.Scalar;
    lossSum.dispose();
    lossSum = unscaled;
  }
  if (nMicro > 1) {
    for (const n of names) {
      const mean = tf.div(acc[n], nMicro);
      acc[n].dispose();
      acc[n] = mean;
    }
    const mean = tf.div(lossSum, nMicro) as tf.Scalar;
    lossSum.dispose();
    lossSum = mean;
  }
  return { loss: lossSum, grads: acc };
}

export function disposeGrads(grads: Record<string, tf.Tensor>): void {
  for (const g of Object.values(grads)) g.dispose();
}

/**
 * One optimizer step, shared by pretraining and SFT: accumulate gradients over the micro-batches, clip, apply
 * AdamW. Returns [mean loss, gradient norm before clipping] as a device tensor, not yet read: pass it to
 * readStepStats, now or (on a device that runs ahead) after the next step has been recorded.
 */
export function optimizerStep(
  params: Params, cfg: PretrainConfig['model'], optimizer: AdamW, lr: number, gradClip: number,
  micros: () => Iterable<Batch>, nMicro: number,
): tf.Tensor1D {
  if (!replayWanted() || !fusedAdamWAvailable()) {
    releaseStepReplay(optimizer); // replay turned off: the buffers a recording holds go back to the pool
    return tfjsStep(params, cfg, optimizer, lr, gradClip, micros, nMicro);
  }
  // Opt-in (MIDTRAIN_WEBGPU_REPLAY=1): the step's WebGPU commands recorded once and replayed (webgpu-replay.ts).
  const batches = [...micros()];
  const key = JSON.stringify({
    cfg, nMicro, gradClip, params: Object.keys(params), scaler: optimizer.lossScaler?.o ?? null, flags: replayFlags(),
    batches: batches.map((b) => [b.B, b.T, b.inputs.length, b.targets.length, b.weights?.length ?? -1]),
  });
  return stepWithReplay({
    key, owner: optimizer,
    inputs: batches.flatMap((b) => (b.weights ? [b.inputs, b.targets, b.weights] : [b.inputs, b.targets])),
    state: optimizer.stateTensors(),
    adamwUniform: () => adamwStepUniform(optimizer.nextStepConstants(lr)),
    adamwUniformBuffer: adamwStepUniformBuffer,
    run: () => onDeviceOnly(() => tfjsStep(params, cfg, optimizer, lr, gradClip, () => batches, nMicro)),
    replayed: () => optimizer.countReplayedStep(),
  });
}

/** optimizerStep through tfjs's kernels. */
function tfjsStep(
  params: Params, cfg: PretrainConfig['model'], optimizer: AdamW, lr: number, gradClip: number,
  micros: () => Iterable<Batch>, nMicro: number,
): tf.Tensor1D {
  // The scale this step uses, copied now: the optimizer updates the scaler's state in place.
  const scale = optimizer.lossScaler?.scale();
  const { loss, grads } = accumulateGrads(params, cfg, micros, nMicro, scale);
  const { norm, skipped } = optimizer.clipAndStepScaled(grads, lr, gradClip);
  const stats = tf.tidy(() => tf.stack(scale && skipped ? [loss, norm, skipped, scale] : [loss, norm]) as tf.Tensor1D);
  for (const t of [loss, norm, skipped, scale]) t?.dispose();
  return stats;
}

/**
 * Reads (and disposes) a step's [loss, gradient norm]; fails with one line on a non-finite loss. The weights
 * may already hold that step's update, but no checkpoint is taken before its stats are read and found
 * finite, so the last checkpoint stays good.
 */
export async function readStepStats(stats: tf.Tensor1D, what: string, stepNumber: number): Promise<StepStats> {
  let v: Float32Array;
  try {
    v = (await stats.data()) as Float32Array; // the copy is queued now, behind the step's work
  } finally {
    stats.dispose(); // not before: webgpu's read writes into the tensor's record when it completes
  }
  const [loss, gradNorm] = [v[0], v[1]];
  if (!Number.isFinite(loss)) throw new NonFiniteLossError(`non-finite ${what} loss (${loss}) at step ${stepNumber}: run stopped`);
  if (v.length < 4) return { loss, gradNorm };
  // Loss-scaled: a step whose gradients overflowed was skipped (and its norm is not finite: not logged).
  return v[2] !== 0 ? { loss, lossScale: v[3], skipped: true } : { loss, gradNorm, lossScale: v[3] };
}

/** A step's numbers as read back: the loss, the gradient norm (absent for a skipped step), and with loss scaling the scale used. */
export interface StepStats { loss: number; gradNorm?: number; lossScale?: number; skipped?: boolean }

/**
 * A batch as pieces of at most `rows` rows (fresh arrays: the step uploads them as they are), for a device
 * that cannot bind the whole batch's tensors; the batch itself when it has no more rows than that. With loss weights each piece carries its share of the batch's
 * counted tokens, so the mean over pieces is the whole batch's token-weighted loss; without, pieces of equal
 * rows count equally, as the whole batch's mean does.
 */
export function batchPieces(b: Batch, rows: number): Batch[] {
  if (rows >= b.B) return [b];
  const pieces: Batch[] = [];
  for (let from = 0; from < b.B; from += rows) {
    const n = Math.min(rows, b.B - from);
    const cut = <A extends Int32Array | Float32Array>(a: A) => a.slice(from * b.T, (from + n) * b.T) as A;
    pieces.push({ inputs: cut(b.inputs), targets: cut(b.targets), ...(b.weights ? { weights: cut(b.weights) } : {}), B: n, T: b.T });
  }
  const counted = (x: Batch) => (x.weights ? x.weights.reduce((s, w) => s + w, 0) : x.B * x.T);
  const total = counted(b);
  if (total === 0) return pieces; // no counted token anywhere (never in SFT data): nothing to weigh
  // A piece with no counted token has no mean (its loss would be 0/0); leaving it out changes nothing.
  const kept = pieces.filter((p) => counted(p) > 0);
  if (b.weights || b.B % rows !== 0) for (const p of kept) p.share = (counted(p) * kept.length) / total;
  return kept;
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
  // A WebGPU device binds each tensor whole, up to a limit (Pythia-70M's logits at 16 × 2048 tokens are
  // 6 GiB): a micro-batch too big for it is computed in equal pieces (gradients averaged, as over micro-batches).
  const rows = rowsThatFit(cfg, config.microBatch, T, config.name);
  const pieces = config.microBatch / rows;
  const sampler = new MixtureSampler(config.mixture, total, opts.shards, T, config.seed);
  const val = opts.skipEval ? {} : roleValBatches(opts.shards, T, config.evalTokens, rows);

  const params = opts.start ? paramsFromArrays(cfg, opts.start.params) : initParams(cfg, config.seed);
  const optimizer = new AdamW(params, config.optim);
  // On a GPU the loop records step s+1 before it reads step s's loss (deviceRunsAhead), so the device
  // always has queued work; `pending` is the recorded step whose stats are not read yet. A step that is
  // evaluated or checkpointed is read before anything else is recorded: those read the weights.
  const runsAhead = deviceRunsAhead();
  type Recorded = { step: number; lr: number; stats: Promise<StepStats> };
  let pending: Recorded | undefined;
  // Speed = this step's tokens over the time since the loop last resumed (after the previous log, its eval,
  // checkpoint and the consumer): one step's recording plus the wait for its stats, a step period either way.
  let t0 = Date.now();
  const logOf = async (r: Recorded): Promise<StepLog> => {
    const { loss, ...scaled } = await r.stats;
    return {
      step: r.step,
      tokens: r.step * config.batchSize * T,
      lr: r.lr,
      trainLoss: loss,
      ...scaled,
      tokensPerSec: (config.batchSize * T) / Math.max(1e-3, (Date.now() - t0) / 1000),
      weights: weightsAt(config.mixture, r.step - 1, total),
    };
  };
  try {
    if (opts.start?.adam) optimizer.load(opts.start.adam);
    let step = opts.start?.step ?? 0;
    while (step < stop) {
      const lr = lrAt(step, total, config.optim);
      const s = step;
      const stats = optimizerStep(params, cfg, optimizer, lr, config.optim.gradClip, function* () {
        for (let m = 0; m < nMicro; m++) {
          yield* batchPieces(sampler.batch(s, m, config.microBatch), rows);
        }
      }, nMicro * pieces);
      step += 1;
      const current: Recorded = { step, lr, stats: readStepStats(stats, 'training', step) };
      current.stats.catch(() => { /* awaited below; this only keeps an early failure from being "unhandled" */ });
      if (pending) {
        yield await logOf(pending);
        pending = undefined;
      }
      const evalNow = !opts.skipEval && (step % config.evalEvery === 0 || step === total);
      const checkpointNow = opts.checkpointAt?.(step) ?? false;
      if (runsAhead && !evalNow && !checkpointNow && step < stop && !opts.syncAt?.(step)) {
        pending = current;
      } else {
        const log = await logOf(current);
        if (evalNow) log.val = evaluateRoles(params, cfg, val);
        // The log goes out (and into metrics.jsonl) before the checkpoint: a checkpoint never runs ahead of the
        // metrics, so a run killed in between resumes from the previous checkpoint and redoes these steps.
        yield log;
        if (checkpointNow) {
          opts.onCheckpoint?.({ step, params: paramsToArrays(params), adam: optimizer.state(), sampler: { seed: config.seed, step } });
        }
      }
      await yieldToEventLoop();
      t0 = Date.now();
    }
  } finally {
    optimizer.dispose();
    disposeParams(params);
  }
}
