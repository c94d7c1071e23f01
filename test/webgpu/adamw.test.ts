// The fused in-place AdamW kernel (src/backend/webgpu-adamw.ts) against the engine's op-by-op AdamW on
// the same webgpu device (lavapipe): same parameters after several steps, decay only where the engine
// decays, no tensors created per step. Skips, saying why, without lavapipe.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { fusedAdamW, fusedAdamWAvailable } from '../../src/backend/webgpu-adamw';
import { countWebgpuCalls } from '../../src/backend/webgpu-stats';
import { setSubgroupReductions, subgroupReductions } from '../../src/backend/webgpu-subgroups';
import { AdamW } from '../../src/train/optim';
import { decays } from '../../src/model/gpt';
import type { OptimConfig } from '../../src/runs/types';
import { Rng } from '../../src/rng';

const OPT: OptimConfig = { lr: 1e-2, minLr: 0, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 0 };
// Names exercise both decay branches.
const SHAPES: Record<string, number[]> = { 'wte': [70, 33], 'h0.ln1.w': [33], 'h0.attn.qkv.b': [99], 'head.w': [33, 70] };
const STEPS = 3;

function randArrays(shapes: Record<string, number[]>, seed: number, scale: number): Record<string, Float32Array> {
  const rng = new Rng(seed);
  return Object.fromEntries(Object.entries(shapes).map(([k, s]) => {
    const n = s.reduce((a, b) => a * b, 1);
    return [k, Float32Array.from({ length: n }, () => rng.normal() * scale)];
  }));
}

async function run(shapes: Record<string, number[]>, fused: boolean, maxGroupsPerDim?: number): Promise<Record<string, Float32Array>> {
  const p0 = randArrays(shapes, 1, 0.5);
  const params = Object.fromEntries(Object.entries(p0).map(([k, a]) => [k, tf.variable(tf.tensor(a, shapes[k]))]));
  const opt = new AdamW(params, OPT);
  const m = Object.fromEntries(Object.keys(params).map((k) => [k, tf.variable(tf.zerosLike(params[k]), false)]));
  const v = Object.fromEntries(Object.keys(params).map((k) => [k, tf.variable(tf.zerosLike(params[k]), false)]));
  for (let s = 0; s < STEPS; s++) {
    const ga = randArrays(shapes, 100 + s, 0.1);
    const grads = Object.fromEntries(Object.entries(ga).map(([k, a]) => [k, tf.tensor(a, shapes[k])]));
    if (fused) fusedAdamW(params, m, v, grads, { ...OPT, t: s + 1, maxGroupsPerDim }, decays);
    else opt.step(grads, OPT.lr);
    Object.values(grads).forEach((g) => g.dispose());
  }
  const out: Record<string, Float32Array> = {};
  for (const [k, p] of Object.entries(params)) out[k] = (await p.data()) as Float32Array;
  [...Object.values(params), ...Object.values(m), ...Object.values(v)].forEach((x) => x.dispose());
  opt.dispose();
  return out;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(a[i])));
  return worst;
}

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('fused in-place AdamW on webgpu equals the engine\'s op-by-op AdamW', { skip, timeout: 240_000 }, async () => {
  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const prev = process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
  try {
    assert.ok(fusedAdamWAvailable());
    process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW = '0'; // the engine's AdamW must take its op-by-op path
    const ref = await run(SHAPES, false);
    delete process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
    // Default 1-D grids, and 2-D grids (2 workgroups per row) as parameters over 65535·256 values get.
    for (const maxGroups of [undefined, 2]) {
      const got = await run(SHAPES, true, maxGroups);
      for (const k of Object.keys(SHAPES)) {
        const d = maxRelDiff(ref[k], got[k]);
        assert.ok(d < 1e-5, `${k} (maxGroupsPerDim ${maxGroups}): max relative difference ${d}`);
      }
    }
    // No tensors are created by a fused step once buffers are owned, and one dispatch per parameter.
    const names = Object.keys(SHAPES);
    const params = Object.fromEntries(names.map((k) => [k, tf.variable(tf.ones(SHAPES[k]))]));
    const mk = () => Object.fromEntries(names.map((k) => [k, tf.variable(tf.zeros(SHAPES[k]), false)]));
    const m = mk(), v = mk();
    const grads = Object.fromEntries(names.map((k) => [k, tf.fill(SHAPES[k], 0.5)]));
    fusedAdamW(params, m, v, grads, { ...OPT, t: 1 }, decays);
    // Reading caches the values on the CPU; the next in-place step must not leave that copy stale.
    const afterOne = (await params.wte.data())[0];
    params.wte.dataSync();
    const before = tf.memory().numTensors;
    const { counts } = await countWebgpuCalls(() => fusedAdamW(params, m, v, grads, { ...OPT, t: 2 }, decays));
    assert.equal(tf.memory().numTensors, before, 'a fused step must not create tensors');
    assert.ok(params.wte.dataSync()[0] < afterOne - 1e-4, 'a read after an in-place step must see the new values');
    assert.equal(counts.dispatches, names.length, 'one dispatch per parameter');
    assert.equal(counts.kernels, 0, 'no tfjs kernels');
    // ln1.w does not decay: after two steps with g = 0.5 everywhere it moved by exactly 2 lr-sized Adam steps.
    const ln = (await params['h0.ln1.w'].data())[0];
    const wte = (await params['wte'].data())[0];
    assert.ok(Math.abs(ln - (1 - 2 * OPT.lr)) < 1e-5, `no decay on norms: ${ln}`);
    assert.ok(wte < ln - 1e-4, `decay on matrices: wte ${wte} vs ln ${ln}`);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
    else process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW = prev;
    releaseWebgpu();
  }
});

test('clipping on the GPU (AdamW.clipAndStep on webgpu) equals clipByGlobalNorm on the host, with no readback', { skip, timeout: 240_000 }, async () => {
  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const prev = process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
  // 60,000 values: more than the 128 workgroups × 256 threads one sum-of-squares dispatch covers in one pass.
  const shapes: Record<string, number[]> = { ...SHAPES, 'h0.mlp.fc.w': [300, 200] };
  const runClip = async (maxNorm: number) => {
    const params = Object.fromEntries(Object.entries(randArrays(shapes, 1, 0.5)).map(([k, a]) => [k, tf.variable(tf.tensor(a, shapes[k]))]));
    // Adam's update ignores a gradient's scale unless eps is comparable to √v: a large eps and a scale that
    // changes from step to step make a wrong clip coefficient visible in the weights.
    const opt = new AdamW(params, { ...OPT, eps: 1e-2 });
    const norms: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const grads = Object.fromEntries(Object.entries(randArrays(shapes, 100 + s, 0.1 * (1 + s))).map(([k, a]) => [k, tf.tensor(a, shapes[k])]));
      const norm = opt.clipAndStep(grads, OPT.lr, maxNorm);
      norms.push((await norm.data())[0]);
      norm.dispose();
    }
    const out: Record<string, Float32Array> = {};
    for (const [k, p] of Object.entries(params)) out[k] = (await p.data()) as Float32Array;
    Object.values(params).forEach((x) => x.dispose());
    opt.dispose();
    return { out, norms };
  };
  try {
    // The gradients' norms are ≈ 0.1·√60,000 ≈ 25 to 75: 1 clips hard, 100 never clips, 0 means no clipping.
    for (const maxNorm of [1, 100, 0]) {
      process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW = '0';
      const ref = await runClip(maxNorm);
      delete process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
      assert.ok(fusedAdamWAvailable());
      // The norm's sums with subgroup operations (lavapipe has them) and with the workgroup tree.
      const chosen = subgroupReductions().used;
      for (const sg of [true, false]) {
        setSubgroupReductions(sg);
        const got = await runClip(maxNorm);
        const mode = sg ? 'subgroups' : 'workgroup tree';
        got.norms.forEach((n, i) => assert.ok(Math.abs(n - ref.norms[i]) <= 1e-5 * ref.norms[i], `max ${maxNorm} step ${i} (${mode}): norm ${n} vs host ${ref.norms[i]}`));
        for (const k of Object.keys(shapes)) {
          const d = maxRelDiff(ref.out[k], got.out[k]);
          assert.ok(d < 1e-4, `${k} (max norm ${maxNorm}, ${mode}): max relative difference ${d}`);
        }
      }
      setSubgroupReductions(chosen);
    }
    // One fused step: a sum-of-squares dispatch per gradient, one for the norm, one AdamW per parameter; no readback.
    const names = Object.keys(shapes);
    const params = Object.fromEntries(names.map((k) => [k, tf.variable(tf.ones(shapes[k]))]));
    const opt = new AdamW(params, OPT);
    const grads = () => Object.fromEntries(names.map((k) => [k, tf.fill(shapes[k], 0.5)]));
    opt.clipAndStep(grads(), OPT.lr, 1).dispose();
    const { counts } = await countWebgpuCalls(() => opt.clipAndStep(grads(), OPT.lr, 1).dispose());
    assert.equal(counts.mapAsync, 0, 'clipping must not read anything back');
    assert.ok(counts.dispatches <= 2 * names.length + 1 + names.length + 2, `dispatches ${counts.dispatches}`);
    // Under tf.time() (bench/webgpu-profile.ts --kernel-times) these dispatches are timed and named like tfjs's.
    const timing = await tf.time(() => opt.clipAndStep(grads(), OPT.lr, 1).dispose());
    const info = (timing as { getExtraProfileInfo?: () => string }).getExtraProfileInfo?.() ?? '';
    for (const k of ['midtrain-grad-sumsq', 'midtrain-grad-norm', 'midtrain-adamw']) assert.ok(info.includes(`${k}: `), `${k} missing from the timings: ${info.slice(0, 200)}`);
    assert.ok(timing.kernelMs as number > 0, `GPU time ${timing.kernelMs}`);
    Object.values(params).forEach((x) => x.dispose());
    opt.dispose();
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW;
    else process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW = prev;
    releaseWebgpu();
  }
});
