// AdamW with decoupled weight decay, global-norm gradient clipping and the warmup + cosine schedule
// (paper: β 0.9/0.95, wd 0.1 not on norms/biases, clip 1.0, 10% linear warmup then cosine to a floor).
// Formulas follow torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ exactly, so the PyTorch reference
// agrees step for step (test/engine/parity.test.ts).
import * as tf from '@tensorflow/tfjs';
import type { OptimConfig } from '../runs/types';
import { decays, type Params } from '../model/gpt';
import { fusedAdamW, fusedAdamWAvailable } from '../backend/webgpu-adamw';
import { hasNativeAdamW } from '../backend/caps';
import { nativeFusedAdamW } from '../backend/native';
import { webgpuMatmulF16 } from '../backend/webgpu-matmul';
import { LossScaler, type LossScaleOptions } from './loss-scale';
import { releaseStepReplay } from '../backend/webgpu-replay';

/**
 * Learning rate for optimizer step `step` (0-based) of `totalSteps`: linear warmup, then cosine to minLr.
 * The ramp's last step is at peak, so any warmup at all lasts at least 2 steps (the first at half the peak):
 * otherwise a short SFT run (round(0.1 · 4) = 0) would take its first step at peak from a fresh optimiser.
 */
export function lrAt(step: number, totalSteps: number, o: OptimConfig): number {
  const warmup = o.warmupFraction > 0 ? Math.max(2, Math.round(o.warmupFraction * totalSteps)) : 0;
  if (step < warmup) return (o.lr * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return o.minLr + 0.5 * (o.lr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}

/** Scale gradients so their global L2 norm is at most maxNorm (torch: coef = max/(norm + 1e-6), capped at 1). Returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: number } {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  const coef = maxNorm / (norm + 1e-6);
  if (!(maxNorm > 0) || coef >= 1 || !Number.isFinite(norm)) return { grads, norm };
  const clipped: Record<string, tf.Tensor> = {};
  for (const [k, g] of Object.entries(grads)) {
    clipped[k] = tf.mul(g, coef);
    g.dispose();
  }
  return { grads: clipped, norm };
}

/** Serialisable optimizer state: step count and both moments per parameter. */
export interface AdamState {
  t: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export class AdamW {
  t = 0;
  private m: Record<string, tf.Variable> = {};
  private v: Record<string, tf.Variable> = {};
  /**
   * Dynamic loss scaling, on whenever matmuls run with f16 tiles (mixed precision), as torch pairs fp16
   * autocast with GradScaler: the loss to differentiate is scaled by it and clipAndStep unscales.
   */
  readonly lossScaler: LossScaler | undefined;

  constructor(private params: Params, private o: OptimConfig, opts: { lossScaling?: boolean | Partial<LossScaleOptions> } = {}) {
    for (const [k, p] of Object.entries(params)) {
      this.m[k] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.v[k] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    }
    const scaling = opts.lossScaling ?? (tf.getBackend() === 'webgpu' && webgpuMatmulF16());
    if (scaling) this.lossScaler = new LossScaler(scaling === true ? {} : scaling);
  }

  /** One update with learning rate lr; weight decay is decoupled (p ← p·(1 − lr·wd)) and skips norms/biases. */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.o;
    // webgpu: the same update as one in-place WGSL kernel per parameter (src/backend/webgpu-adamw.ts).
    if (fusedAdamWAvailable()) {
      fusedAdamW(this.params, this.m, this.v, grads, { beta1: b1, beta2: b2, eps, weightDecay: wd, lr, t: this.t }, decays);
      return;
    }
    // native: one in-place C++ pass per parameter (src/backend/native.ts).
    if (hasNativeAdamW()) return nativeFusedAdamW(this.params, this.m, this.v, grads, { beta1: b1, beta2: b2, eps, weightDecay: wd, lr, t: this.t }, decays);
    const bc1 = 1 - Math.pow(b1, this.t);
    const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, this.t));
    tf.tidy(() => {
      for (const [k, p] of Object.entries(this.params)) {
        const g = grads[k];
        if (!g) throw new Error(`AdamW: no gradient for ${k}`);
        const m = tf.add(tf.mul(this.m[k], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[k], b2), tf.mul(tf.square(g), 1 - b2));
        this.m[k].assign(m);
        this.v[k].assign(v);
        const decayed = wd > 0 && decays(k) ? tf.mul(p, 1 - lr * wd) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
      }
    });
  }

  /**
   * Clip `grads` to global norm `maxNorm` (0 = no clipping) and apply one update; takes ownership of `grads`
   * (disposes them). Returns the norm before clipping as a scalar tensor. On webgpu the norm, the clipping
   * and the update all stay on the GPU (webgpu-adamw.ts), so nothing waits for a readback; elsewhere the norm
   * is read on the host as clipByGlobalNorm does.
   */
  clipAndStep(grads: Record<string, tf.Tensor>, lr: number, maxNorm: number): tf.Scalar {
    return this.clipAndStepScaled(grads, lr, maxNorm).norm;
  }

  /**
   * clipAndStep for gradients of the loss times the loss scale (when there is a scaler): unscaled, and the
   * step skipped on an overflow. Returns the unscaled norm and, with a scaler, whether the step was skipped
   * (1) or taken (0) as a device scalar.
   */
  clipAndStepScaled(grads: Record<string, tf.Tensor>, lr: number, maxNorm: number): { norm: tf.Scalar; skipped?: tf.Scalar } {
    const ls = this.lossScaler;
    if (fusedAdamWAvailable()) {
      this.t += 1;
      const { beta1, beta2, eps, weightDecay } = this.o;
      const lossScale = ls ? { state: ls.state, ...ls.o } : undefined;
      const out = fusedAdamW(this.params, this.m, this.v, grads, { beta1, beta2, eps, weightDecay, lr, t: this.t, clip: Math.max(0, maxNorm), lossScale }, decays)!;
      for (const g of Object.values(grads)) g.dispose();
      const norm = tf.tidy(() => tf.reshape(tf.slice(out, 0, 1), []) as tf.Scalar);
      const skipped = ls ? tf.tidy(() => tf.reshape(tf.slice(out, 2, 1), []) as tf.Scalar) : undefined;
      out.dispose();
      return { norm, skipped };
    }
    if (ls) {
      // Op by op: unscale on the host's reading of S; clipping's norm then decides the skip (and back-off).
      const inv = 1 / ls.read()[0];
      const unscaled = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, inv)]));
      for (const g of Object.values(grads)) g.dispose();
      grads = unscaled;
    }
    const clipped = clipByGlobalNorm(grads, maxNorm);
    if (ls) {
      const finite = Number.isFinite(clipped.norm);
      ls.update(finite);
      if (!finite) {
        this.t += 1; // as on the device, where the host cannot know the step was skipped
        for (const g of Object.values(grads)) g.dispose(); // not clipped: clipped.grads are these
        return { norm: tf.scalar(clipped.norm), skipped: tf.scalar(1) };
      }
    }
    this.step(clipped.grads, lr);
    for (const g of [...Object.values(grads), ...Object.values(clipped.grads)]) g.dispose();
    return { norm: tf.scalar(clipped.norm), ...(ls ? { skipped: tf.scalar(0) } : {}) };
  }

  state(): AdamState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const k of Object.keys(this.m)) {
      m[k] = this.m[k].dataSync() as Float32Array;
      v[k] = this.v[k].dataSync() as Float32Array;
    }
    return { t: this.t, m, v };
  }

  load(s: AdamState): void {
    for (const k of Object.keys(this.m)) {
      if (!s.m[k] || !s.v[k]) throw new Error(`optimizer state: missing moments for ${k}`);
      tf.tidy(() => {
        this.m[k].assign(tf.tensor(s.m[k], this.m[k].shape));
        this.v[k].assign(tf.tensor(s.v[k], this.v[k].shape));
      });
    }
    this.t = s.t;
  }

  /** The fused update's constants for the next step at `lr` (a replayed step writes them itself: webgpu-replay.ts). */
  nextStepConstants(lr: number): { beta1: number; beta2: number; eps: number; weightDecay: number; lr: number; t: number } {
    const { beta1, beta2, eps, weightDecay } = this.o;
    return { beta1, beta2, eps, weightDecay, lr, t: this.t + 1 };
  }

  /** Counts a step the GPU replayed without going through clipAndStepScaled (webgpu-replay.ts). */
  countReplayedStep(): void {
    this.t += 1;
  }

  /** Every tensor an update changes in place: parameters, both moments, the loss-scale state. */
  stateTensors(): tf.Tensor[] {
    return [...Object.values(this.params), ...Object.values(this.m), ...Object.values(this.v), ...(this.lossScaler ? [this.lossScaler.state] : [])];
  }

  dispose(): void {
    releaseStepReplay(this);
    this.lossScaler?.dispose();
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
  }
}
