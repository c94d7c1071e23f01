// Shared helpers for the engine tests: backend setup, finite-difference gradient checks, micro configs.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/choose';
import type { ModelConfig } from '../../src/runs/types';
import { Rng } from '../../src/rng';

/** wasm unless MIDTRAIN_BACKEND names another (so a new backend can run the same checks). */
export async function setupBackend(): Promise<string> {
  const r = await initBackend({ backend: process.env.MIDTRAIN_BACKEND ? undefined : 'wasm', quiet: true });
  return r.name;
}

/** 2 layers × 16 dims: small enough that the whole model's gradient check runs in seconds. */
export const MICRO: ModelConfig = {
  vocabSize: 40, dModel: 16, nLayers: 2, nHeads: 2, contextLength: 16,
  rotaryPct: 0.5, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5,
};

export function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return tf.tensor(a, shape);
}

/**
 * Directional finite-difference check of ∂f/∂xs[k] for every input: compares ⟨∇f, d⟩ with
 * (f(x + εd) − f(x − εd)) / 2ε for a random direction d. Returns the worst relative error.
 */
export function gradCheck(f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[], eps = 1e-2, seed = 7): { rel: number; pairs: [number, number][] } {
  const grads = tf.grads((...a: tf.Tensor[]) => f(...a))(xs);
  let worst = 0;
  const pairs: [number, number][] = [];
  xs.forEach((x, k) => {
    const d = randn(x.shape, seed + k);
    const analytic = tf.sum(tf.mul(grads[k], d)).dataSync()[0];
    const at = (s: number) => tf.tidy(() => f(...xs.map((y, j) => (j === k ? tf.add(y, tf.mul(d, s)) : y))).dataSync()[0]);
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    pairs.push([analytic, numeric]);
    // Relative error, with a floor so float32 noise on near-zero directional derivatives does not dominate.
    worst = Math.max(worst, Math.abs(analytic - numeric) / Math.max(0.1, Math.abs(numeric)));
    d.dispose();
  });
  grads.forEach((g) => g.dispose());
  return { rel: worst, pairs };
}
