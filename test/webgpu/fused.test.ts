// The fused webgpu kernels (src/backend/webgpu-fused.ts: layer norm, cross-entropy, attention, GELU, rotary) against
// the model's own tf-op formulation on wasm: same values and same gradients through src/model/ops.ts, which routes to
// them by itself (caps.hasFusedLayerNorm()); the row reductions both with subgroup operations and with the workgroup
// tree (src/backend/webgpu-subgroups.ts). Skips, saying why, without lavapipe.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend } from '../../src/backend/choose';
import { hasFusedAttention, hasFusedCrossEntropy, hasFusedGelu, hasFusedLayerNorm, hasFusedRotary } from '../../src/backend/caps';
import { fusedGelu, fusedRotary } from '../../src/backend/native-fused';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { countWebgpuCalls } from '../../src/backend/webgpu-stats';
import { setSubgroupReductions, subgroupReductions } from '../../src/backend/webgpu-subgroups';
import { causalAttention, crossEntropy, gelu, layerNorm } from '../../src/model/ops';
import { Rng } from '../../src/rng';

function randn(n: number, seed: number, mean = 0, std = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => mean + std * rng.normal());
}

// rows × C: C below, at and above the 256-thread workgroup; rows over one 128-row block of the dγ/dβ sums.
const SHAPES: [number, number][] = [[37, 40], [300, 24], [5, 300]];

async function layerNormCase(rows: number, C: number): Promise<Float32Array[]> {
  const x = tf.tensor2d(randn(rows * C, 1, 0.5, 2), [rows, C]);
  const g = tf.tensor1d(randn(C, 2, 1, 0.1)), b = tf.tensor1d(randn(C, 3, 0, 0.1));
  const dy = tf.tensor2d(randn(rows * C, 4), [rows, C]);
  const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => layerNorm(xi, gi, bi, 1e-5);
  const y = f(x, g, b);
  const grads = tf.grads(f)([x, g, b], dy);
  const out = [await y.data(), ...(await Promise.all(grads.map((t) => t.data())))] as Float32Array[];
  tf.dispose([x, g, b, dy, y, ...grads]);
  return out;
}

function assertClose(got: Float32Array, want: Float32Array, what: string, tol = 2e-4): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  assert.ok(worst < tol, `${what}: worst difference ${worst}`);
}

/**
 * Runs the caller's loop body once per reduction mode: subgroups (lavapipe has them, and the probe must pass
 * there) and the workgroup tree; then leaves the mode as the backend chose it. Yields the mode's name.
 */
function* reductionModes(): Generator<string> {
  const chosen = subgroupReductions().used;
  try {
    for (const sg of [true, false]) {
      setSubgroupReductions(sg); // throws, saying why, where the probe failed
      yield sg ? 'subgroup reductions' : 'workgroup-tree reductions';
    }
  } finally {
    setSubgroupReductions(chosen);
  }
}

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('webgpu fused layer norm: same y, dx, dγ, dβ as the tf-op layer norm on wasm, in 4 dispatches', { skip, timeout: 240_000 }, async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  assert.equal(hasFusedLayerNorm(), false);
  const ref: Float32Array[][] = [];
  for (const [r, c] of SHAPES) ref.push(await layerNormCase(r, c));
  releaseBackend();

  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    assert.ok(hasFusedLayerNorm(), 'the fused layer norm must be registered for webgpu');
    for (const mode of reductionModes()) {
      for (let k = 0; k < SHAPES.length; k++) {
        const got = await layerNormCase(...SHAPES[k]);
        ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => assertClose(got[i], ref[k][i], `${name} ${SHAPES[k]} (${mode})`));
      }
    }
    // Forward + backward of one layer norm: 1 + 3 dispatches (tf ops: ~20).
    const x = tf.randomNormal([64, 32]), g = tf.ones([32]), b = tf.zeros([32]);
    const { counts } = await countWebgpuCalls(() => tf.tidy(() => tf.grads((xi: tf.Tensor) => layerNorm(xi, g, b, 1e-5))([x])));
    assert.ok(counts.dispatches <= 6, `dispatches for a layer norm forward+backward: ${counts.dispatches} (${JSON.stringify(counts.byKernel)})`);
    tf.dispose([x, g, b]);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    releaseWebgpu();
  }
});

// N × V: V below and above the 256-thread workgroup; with and without a 0/1 token mask (SFT).
const CE: [number, number, boolean][] = [[37, 300, false], [16, 1000, true], [5, 97, true]];

async function crossEntropyCase(N: number, V: number, masked: boolean): Promise<Float32Array[]> {
  const z = tf.tensor2d(randn(N * V, 5, 0, 3), [N, V]);
  const rng = new Rng(6);
  const targets = tf.tensor1d(Int32Array.from({ length: N }, () => rng.int(V)), 'int32');
  const weights = masked ? tf.tensor1d(Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1))) : undefined;
  const f = (zi: tf.Tensor) => crossEntropy(zi, targets, weights);
  const loss = f(z);
  const dz = tf.grad(f)(z);
  const out = [await loss.data(), await dz.data()] as Float32Array[];
  tf.dispose([z, targets, loss, dz]);
  if (weights) weights.dispose();
  return out;
}

test('webgpu fused cross-entropy: same loss and dlogits as the tf-op one on wasm (masked and not), no one-hot', { skip, timeout: 240_000 }, async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  assert.equal(hasFusedCrossEntropy(), false);
  const ref: Float32Array[][] = [];
  for (const c of CE) ref.push(await crossEntropyCase(...c));
  releaseBackend();

  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    assert.ok(hasFusedCrossEntropy(), 'the fused cross-entropy must be registered for webgpu');
    for (const mode of reductionModes()) {
      for (let k = 0; k < CE.length; k++) {
        const got = await crossEntropyCase(...CE[k]);
        assertClose(got[0], ref[k][0], `loss ${CE[k]} (${mode})`);
        assertClose(got[1], ref[k][1], `dlogits ${CE[k]} (${mode})`, 1e-5);
      }
    }
    const z = tf.randomNormal([8, 50]), t = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8], 'int32');
    const { counts } = await countWebgpuCalls(() => tf.tidy(() => tf.grad((zi: tf.Tensor) => crossEntropy(zi, t))(z)));
    assert.equal(counts.byKernel.OneHot ?? 0, 0, 'no one-hot');
    assert.ok(counts.dispatches <= 4, `dispatches for cross-entropy forward+backward: ${counts.dispatches} (${JSON.stringify(counts.byKernel)})`);
    tf.dispose([z, t]);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    releaseWebgpu();
  }
});

// [B, H, T, D]: T below and above the 256-thread workgroup (rows longer than one stride).
const ATT: [number, number, number, number][] = [[2, 3, 17, 8], [1, 2, 300, 4]];

async function attentionCase(shape: [number, number, number, number]): Promise<Float32Array[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const q = tf.tensor(randn(n, 7), shape) as tf.Tensor4D, k = tf.tensor(randn(n, 8), shape) as tf.Tensor4D;
  const v = tf.tensor(randn(n, 9), shape) as tf.Tensor4D, dy = tf.tensor(randn(n, 10), shape);
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => causalAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D);
  const y = f(q, k, v);
  const grads = tf.grads(f)([q, k, v], dy);
  const out = [await y.data(), ...(await Promise.all(grads.map((t) => t.data())))] as Float32Array[];
  tf.dispose([q, k, v, dy, y, ...grads]);
  return out;
}

test('webgpu fused causal attention: same output and dq, dk, dv as the tf-op attention on wasm', { skip, timeout: 240_000 }, async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  assert.equal(hasFusedAttention(), false);
  const ref: Float32Array[][] = [];
  for (const s of ATT) ref.push(await attentionCase(s));
  releaseBackend();

  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    assert.ok(hasFusedAttention(), 'the fused attention must be registered for webgpu');
    for (const mode of reductionModes()) {
      for (let c = 0; c < ATT.length; c++) {
        const got = await attentionCase(ATT[c]);
        ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(got[i], ref[c][i], `${name} [${ATT[c]}] (${mode})`, 1e-4));
      }
    }
    const x = tf.randomNormal([1, 2, 16, 8]) as tf.Tensor4D;
    const { counts } = await countWebgpuCalls(() => tf.tidy(() => tf.grads((a: tf.Tensor) => causalAttention(a as tf.Tensor4D, x, x))([x])));
    assert.equal(counts.byKernel.Softmax ?? 0, 0, 'no tfjs softmax');
    assert.ok(counts.dispatches <= 12, `dispatches for attention forward+backward: ${counts.dispatches} (${JSON.stringify(counts.byKernel)})`);
    tf.dispose(x);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    releaseWebgpu();
  }
});

/** The model's rotate-half rotary (src/model/gpt.ts applyRotary) in plain tf ops: the reference. */
function rotaryRef(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, r: number): tf.Tensor {
  const [B, H, T, hs] = x.shape;
  const xr = tf.slice(x, [0, 0, 0, 0], [B, H, T, r]);
  const x1 = tf.slice(xr, [0, 0, 0, 0], [B, H, T, r / 2]);
  const x2 = tf.slice(xr, [0, 0, 0, r / 2], [B, H, T, r / 2]);
  const rotated = tf.add(tf.mul(xr, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
  return r === hs ? rotated : tf.concat([rotated, tf.slice(x, [0, 0, 0, r], [B, H, T, hs - r])], -1);
}

async function geluRotaryCase(fused: boolean): Promise<Float32Array[]> {
  const shape: [number, number, number, number] = [2, 3, 7, 10], r = 4, T = 7, n = 2 * 3 * 7 * 10;
  const x = tf.tensor4d(randn(n, 11, 0, 2), shape), dy = tf.tensor4d(randn(n, 12), shape);
  const ang = Float32Array.from({ length: T * r }, (_, i) => 0.3 * Math.floor(i / r) * (1 + (i % (r / 2))));
  const cos = tf.tensor2d(ang.map(Math.cos), [T, r]), sin = tf.tensor2d(ang.map(Math.sin), [T, r]);
  const g = (a: tf.Tensor) => (fused ? fusedGelu(a) : gelu(a));
  const rot = (a: tf.Tensor) => (fused ? fusedRotary(a, cos, sin) : rotaryRef(a as tf.Tensor4D, cos, sin, r));
  const outs = [g(x), tf.grad(g)(x, dy), rot(x), tf.grad(rot)(x, dy)];
  const vals = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
  tf.dispose([x, dy, cos, sin, ...outs]);
  return vals;
}

test('webgpu fused GELU and rotary: same values and gradients as the tf-op formulas on wasm', { skip, timeout: 240_000 }, async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const ref = await geluRotaryCase(false);
  releaseBackend();
  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    assert.ok(hasFusedGelu() && hasFusedRotary(), 'fused GELU and rotary must be registered for webgpu');
    const got = await geluRotaryCase(true);
    ['gelu', 'dgelu', 'rotary', 'drotary'].forEach((name, i) => assertClose(got[i], ref[i], name, 1e-5));
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    releaseWebgpu();
  }
});
