// Dynamic loss scaling (src/train/loss-scale.ts) in the optimizer: the gradients of the scaled loss, once
// unscaled, give the same update and norm as the plain gradients; an overflow skips the step (weights and
// moments unchanged) and halves the scale; clean steps in a row grow it. On the cpu backend (the op-by-op
// path) and, with lavapipe, in the fused webgpu kernels, which must decide all of it without a readback.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { fusedAdamWAvailable } from '../../src/backend/webgpu-adamw';
import { AdamW } from '../../src/train/optim';
import type { OptimConfig } from '../../src/runs/types';
import { Rng } from '../../src/rng';

// A large eps makes Adam's update depend on the gradient's scale, so a missed unscale shows in the weights.
const OPT: OptimConfig = { lr: 1e-2, minLr: 0, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-2, weightDecay: 0.1, gradClip: 1 };
const SHAPES: Record<string, number[]> = { 'wte': [70, 33], 'h0.ln1.w': [33], 'head.w': [33, 70] };

function arrays(seed: number, scale: number): Record<string, Float32Array> {
  const rng = new Rng(seed);
  return Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale)]));
}
const tensors = (a: Record<string, Float32Array>, times = 1) => Object.fromEntries(Object.entries(a).map(([k, x]) => [k, tf.tidy(() => tf.mul(tf.tensor(x, SHAPES[k]), times))]));
const read = async (p: Record<string, tf.Variable>) => Object.fromEntries(await Promise.all(Object.entries(p).map(async ([k, v]) => [k, (await v.data()) as Float32Array] as const)));

function maxRelDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let worst = 0;
  for (const k of Object.keys(a)) for (let i = 0; i < a[k].length; i++) worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]) / Math.max(1e-3, Math.abs(a[k][i])));
  return worst;
}

/** Four steps: two clean (the scale grows after the second), one with an inf (skipped, scale backs off), one clean. */
async function scenario(): Promise<void> {
  const init = arrays(1, 0.5);
  const scaled = Object.fromEntries(Object.entries(init).map(([k, a]) => [k, tf.variable(tf.tensor(a, SHAPES[k]))]));
  const plain = Object.fromEntries(Object.entries(init).map(([k, a]) => [k, tf.variable(tf.tensor(a, SHAPES[k]))]));
  const opt = new AdamW(scaled, OPT, { lossScaling: { init: 1024, growthInterval: 2 } });
  const ref = new AdamW(plain, OPT);
  try {
    const scales: number[] = [];
    const step = async (s: number, poison = false) => {
      const S = opt.lossScaler!.read()[0];
      scales.push(S);
      const g = arrays(100 + s, 0.3 * (1 + s));
      const grads = tensors(g, S);
      if (poison) grads.wte = tf.tidy(() => tf.concat([tf.fill([1, 33], Infinity), tf.slice(grads.wte, [1, 0], [69, 33])]));
      const { norm, skipped } = opt.clipAndStepScaled(grads, OPT.lr, OPT.gradClip);
      const got = { norm: (await norm.data())[0], skipped: (await skipped!.data())[0] };
      norm.dispose();
      skipped!.dispose();
      if (poison) ref.t += 1; // the scaled optimizer advances its step count on a skipped step too (loss-scale.ts)
      else {
        const refNorm = ref.clipAndStep(tensors(g), OPT.lr, OPT.gradClip);
        const want = (await refNorm.data())[0];
        refNorm.dispose();
        assert.ok(Math.abs(got.norm - want) <= 1e-5 * want, `step ${s}: unscaled norm ${got.norm} vs ${want}`);
      }
      return got;
    };
    assert.equal((await step(0)).skipped, 0);
    assert.equal((await step(1)).skipped, 0);
    assert.deepEqual(opt.lossScaler!.read(), [2048, 0], 'two clean steps in a row double the scale');
    const before = { p: await read(scaled), adam: opt.state() };
    const bad = await step(2, true);
    assert.equal(bad.skipped, 1, 'an inf gradient skips the step');
    assert.ok(!Number.isFinite(bad.norm));
    assert.deepEqual(await read(scaled), before.p, 'a skipped step leaves the weights as they were');
    const after = opt.state();
    for (const k of Object.keys(SHAPES)) {
      assert.deepEqual(after.m[k], before.adam.m[k], `${k}: first moment unchanged`);
      assert.deepEqual(after.v[k], before.adam.v[k], `${k}: second moment unchanged`);
    }
    assert.deepEqual(opt.lossScaler!.read(), [1024, 0], 'an overflow halves the scale');
    assert.equal((await step(3)).skipped, 0);
    assert.deepEqual(scales, [1024, 1024, 2048, 1024]);
    const d = maxRelDiff(await read(plain), await read(scaled));
    assert.ok(d < 1e-5, `scaled and unscaled training differ by ${d}`);
  } finally {
    opt.dispose();
    ref.dispose();
    [...Object.values(scaled), ...Object.values(plain)].forEach((v) => v.dispose());
  }
}

test('loss scaling on the op-by-op path (cpu): unscaled update, skip on overflow, back-off and growth', async () => {
  await tf.setBackend('cpu');
  await scenario();
});

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('loss scaling in the fused webgpu kernels (lavapipe): the same, decided on the device', { skip, timeout: 240_000 }, async () => {
  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  try {
    assert.ok(fusedAdamWAvailable());
    await scenario();
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    releaseWebgpu();
  }
});
