// Validation losses: token-weighted mean cross-entropy over fixed batches (no gradients, no leaks).
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../runs/types';
import type { Role } from '../config';
import { batchLoss, type Batch, type Params } from '../model/gpt';
import { valWindows, type RoleShards } from './sampler';

/**
 * Mean loss per counted token over all batches (each batch's mean weighted by its counted tokens). The
 * batch losses are read together, once: on a GPU every read waits for the queue to drain.
 */
export function evaluate(params: Params, cfg: ModelConfig, batches: Batch[]): number {
  const counted = batches.map((b) => ({ b, n: b.weights ? b.weights.reduce((s, w) => s + w, 0) : b.B * b.T })).filter((x) => x.n > 0);
  if (counted.length === 0) return NaN;
  // One tidy per batch, so each batch's activations are freed before the next runs.
  const perBatch = counted.map(({ b }) => tf.tidy(() => batchLoss(params, cfg, b)));
  const losses = tf.stack(perBatch);
  perBatch.forEach((t) => t.dispose());
  const values = losses.dataSync();
  losses.dispose();
  let sum = 0;
  let count = 0;
  counted.forEach(({ n }, i) => {
    sum += values[i] * n;
    count += n;
  });
  return sum / count;
}

/** Fixed validation batches for every role that has data, built once per run. */
export function roleValBatches(shards: RoleShards, T: number, evalTokens: number, rows: number): Partial<Record<Role, Batch[]>> {
  const out: Partial<Record<Role, Batch[]>> = {};
  for (const [role, s] of Object.entries(shards) as [Role, { val: import('../data/types').TokenShard }][]) {
    if (s?.val) out[role] = valWindows(s.val, T, evalTokens, rows);
  }
  return out;
}

/** Val loss of each role. */
export function evaluateRoles(params: Params, cfg: ModelConfig, val: Partial<Record<Role, Batch[]>>): Partial<Record<Role, number>> {
  const out: Partial<Record<Role, number>> = {};
  for (const [role, batches] of Object.entries(val) as [Role, Batch[]][]) out[role] = evaluate(params, cfg, batches);
  return out;
}
