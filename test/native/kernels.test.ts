// The native backend's kernels against tfjs's cpu backend (the reference implementation of every tfjs op):
// same inputs, same outputs within float32 tolerance, for each native kernel and its awkward cases
// (broadcasting, transposes, non-innermost reductions, strided slices, int32 layout ops), then the fused
// kernels against the plain-op formulas they replace, values and gradients. Skips when the addon is not built.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadNativeAddon } from '../../src/backend/native-addon';
import { tryNativeBackend, nativeAdamW } from '../../src/backend/native';
import { fusedCausalAttention, fusedLayerNorm, fusedCrossEntropy, fusedRotary, fusedGelu } from '../../src/backend/native-fused';
import { fastTransposedMatmul, hasFusedAttention, hasFusedCrossEntropy, hasFusedGelu, hasFusedLayerNorm, hasFusedRotary } from '../../src/backend/caps';
import { Rng } from '../../src/rng';

const load = loadNativeAddon();
const skip = load.ok ? false : load.reason;

before(async () => {
  if (skip) return;
  const r = await tryNativeBackend();
  assert.ok(r.ok, r.ok ? '' : r.reason);
});

function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = new Rng(seed);
  const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  return tf.tensor(a, shape);
}

/** Runs f on the cpu backend and on native (inputs rebuilt on each), returns the worst relative error. */
function compare(f: () => tf.Tensor | tf.Tensor[]): number {
  const run = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const out = f();
      return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, dtype: t.dtype, v: Array.from(t.dataSync()) }));
    });
  };
  const want = run('cpu');
  const got = run('native');
  let worst = 0;
  want.forEach((w, i) => {
    assert.deepEqual(got[i].shape, w.shape, 'shape');
    assert.equal(got[i].dtype, w.dtype, 'dtype');
    w.v.forEach((x, j) => {
      const y = got[i].v[j];
      if (Number.isNaN(x)) assert.ok(Number.isNaN(y), `NaN expected at ${j}`);
      else if (!Number.isFinite(x)) assert.equal(y, x);
      else worst = Math.max(worst, Math.abs(x - y) / (1 + Math.abs(x)));
    });
  });
  return worst;
}

const CASES: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ['matmul 2-D', () => tf.matMul(randn([37, 19], 1), randn([19, 23], 2))],
  ['matmul transposeA/B', () => tf.matMul(randn([19, 37], 1), randn([23, 19], 2), true, true)],
  ['batched matmul, shared right operand', () => tf.matMul(randn([3, 4, 5, 6], 1), randn([6, 7], 2))],
  ['batched matmul transposeB', () => tf.matMul(randn([2, 3, 8, 4], 1), randn([2, 3, 8, 4], 2), false, true)],
  ['batched matmul transposeA', () => tf.matMul(randn([2, 3, 8, 4], 1), randn([2, 3, 8, 5], 2), true, false)],
  ['batched matmul, broadcast left batch of 1', () => tf.matMul(randn([1, 5, 6], 1), randn([4, 6, 3], 2))],
  ['matmul with empty dimensions', () => [tf.matMul(randn([0, 4], 1), randn([4, 3], 2)), tf.matMul(randn([2, 0], 1), randn([0, 3], 2))]],
  ['fused matmul + bias + relu', () => tf.fused.matMul({ a: randn([9, 6], 1), b: randn([6, 5], 2), bias: randn([5], 3), activation: 'relu' })],
  ['add, same shape', () => tf.add(randn([4, 5, 6], 1), randn([4, 5, 6], 2))],
  ['add, row vector', () => tf.add(randn([4, 5, 6], 1), randn([6], 2))],
  ['mul, middle broadcast', () => tf.mul(randn([4, 5, 6], 1), randn([4, 1, 6], 2))],
  ['sub, scalar left', () => tf.sub(tf.scalar(0.5), randn([4, 5], 2))],
  ['div, column', () => tf.div(randn([4, 5], 1), tf.add(tf.abs(randn([4, 1], 2)), 0.5))],
  ['maximum / minimum', () => [tf.maximum(randn([7, 3], 1), randn([3], 2)), tf.minimum(randn([7, 3], 1), 0.1)]],
  ['squared difference, pow', () => [tf.squaredDifference(randn([5, 4], 1), randn([5, 4], 2)), tf.pow(tf.abs(randn([5, 4], 1)), randn([4], 2))]],
  ['int32 add falls back to cpu', () => tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32'))],
  ['unary: exp log sqrt rsqrt', () => { const x = tf.abs(randn([100], 1, 3)); return [tf.exp(randn([100], 2, 5)), tf.log(x), tf.sqrt(x), tf.rsqrt(x)]; }],
  ['unary: tanh sigmoid erf relu', () => { const x = randn([200], 1, 4); return [tf.tanh(x), tf.sigmoid(x), tf.erf(x), tf.relu(x), tf.neg(x), tf.square(x), tf.abs(x)]; }],
  ['unary: extremes', () => tf.exp(tf.tensor1d([-1000, -88, -87, 0, 88, 89, 1000]))],
  ['log of zero and negative', () => tf.log(tf.tensor1d([0, -1, 1e-30, 1e30]))],
  ['sum innermost, keepDims', () => tf.sum(randn([4, 5, 6], 1), -1, true)],
  ['sum leading axes', () => tf.sum(randn([4, 5, 6], 1), [0, 1])],
  ['sum middle axis', () => tf.sum(randn([4, 5, 6], 1), 1)],
  ['sum all, long', () => tf.sum(randn([100000], 1))],
  ['mean leading / max / min mixed axes', () => { const x = randn([3, 4, 5, 6], 1); return [tf.mean(x, 0), tf.max(x, [1, 3]), tf.min(x, 2), tf.max(x, -1)]; }],
  ['softmax', () => tf.softmax(randn([7, 33], 1, 5))],
  ['transpose 4-D head split', () => tf.transpose(randn([2, 5, 3, 4], 1), [0, 2, 1, 3])],
  ['transpose last two / general', () => { const x = randn([3, 17, 33], 1); return [tf.transpose(x, [0, 2, 1]), tf.transpose(x, [2, 0, 1]), tf.transpose(randn([40, 70], 2))]; }],
  ['transpose int32', () => tf.transpose(tf.range(0, 24, 1, 'int32').reshape([2, 3, 4]), [2, 0, 1])],
  ['gather rows', () => tf.gather(randn([10, 4], 1), tf.tensor1d([3, 1, 9, 3, 0], 'int32'))],
  ['gather 2-D ids', () => tf.gather(randn([10, 4], 1), tf.tensor2d([[3, 1], [9, 3]], [2, 2], 'int32'))],
  ['unsorted segment sum', () => tf.unsortedSegmentSum(randn([6, 3], 1), tf.tensor1d([2, 0, 2, 4, 0, 2], 'int32'), 5)],
  ['addN', () => tf.addN([randn([5, 4], 1), randn([5, 4], 2), randn([5, 4], 3)])],
  ['slice strided / contiguous', () => { const x = randn([2, 3, 5, 8], 1); return [tf.slice(x, [0, 1, 0, 2], [2, 2, 5, 3]), tf.slice(x, [1, 0, 0, 0], [1, 3, 5, 8]), tf.slice(x, [0, 0, 1, 0], [-1, -1, 2, -1])]; }],
  ['slice int32', () => tf.slice(tf.range(0, 240, 1, 'int32').reshape([2, 3, 5, 8]), [1, 0, 2, 4], [1, 3, 3, 4])],
  ['pad with constant', () => tf.pad(randn([2, 3, 4], 1), [[0, 1], [2, 0], [1, 3]], 0.5)],
  ['concat last axis / first axis', () => { const x = randn([2, 3, 4], 1); return [tf.concat([x, tf.neg(x), tf.slice(x, [0, 0, 0], [2, 3, 1])], -1), tf.concat([x, x], 0)]; }],
  ['split', () => tf.split(randn([2, 3, 8], 1), [2, 5, 1], -1)],
  ['gradient: matmul, gather, rotary-style slice/concat', () => {
    const x = randn([2, 3, 5, 8], 1), w = randn([8, 6], 2), e = randn([10, 8], 3), u = randn([2, 3, 8, 5], 4);
    return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
      const rot = tf.concat([tf.neg(tf.slice(a, [0, 0, 0, 4], [2, 3, 5, 4])), tf.slice(a, [0, 0, 0, 0], [2, 3, 5, 4])], -1);
      const emb = tf.gather(c, tf.tensor1d([1, 1, 7], 'int32'));
      const att = tf.matMul(tf.softmax(tf.matMul(rot, d)), rot);  // batched, both operands differentiated
      return tf.add(tf.sum(tf.square(tf.matMul(tf.reshape(att, [30, 8]), b))), tf.sum(tf.mul(emb, emb)));
    })([x, w, e, u]);
  }],
];

for (const [name, f] of CASES) {
  test(`native kernel matches cpu: ${name}`, { skip }, () => {
    const err = compare(f);
    assert.ok(err < 2e-5, `${name}: relative error ${err}`);
  });
}

test('caps: native reports fast transposed matmul and the fused kernels', { skip }, () => {
  tf.setBackend('native');
  assert.ok(fastTransposedMatmul() && hasFusedAttention() && hasFusedLayerNorm() && hasFusedCrossEntropy() && hasFusedRotary() && hasFusedGelu());
  tf.setBackend('cpu');
  assert.ok(!fastTransposedMatmul() && !hasFusedAttention());
});

/** Value and gradients of a fused kernel vs the same maths in plain tf ops, both on the native backend. */
function fusedVsPlain(fused: (...xs: tf.Tensor[]) => tf.Tensor, plain: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]) {
  tf.setBackend('native');
  const proj = (y: tf.Tensor) => tf.sum(tf.mul(y, randn(y.shape, 99))) as tf.Scalar;
  const err = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / (1e-6 + tf.max(tf.abs(b)).dataSync()[0]));
  const v = err(fused(...xs), plain(...xs));
  const gf = tf.grads((...a: tf.Tensor[]) => proj(fused(...a)))(xs);
  const gp = tf.grads((...a: tf.Tensor[]) => proj(plain(...a)))(xs);
  return { value: v, grads: gf.map((g, i) => err(g, gp[i])) };
}

for (const [B, H, T, D] of [[2, 3, 7, 4], [1, 2, 150, 8]]) {
// T 150 spans three 64-row causal blocks of the native kernel, the last one partial
test(`fused causal attention = softmax(q kᵀ/√d + mask) v, values and gradients (T ${T})`, { skip }, () => {
  const plain = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => {
    const mask = tf.tensor2d(Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [T, T]);
    return tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask)), v);
  };
  const r = fusedVsPlain((q, k, v) => fusedCausalAttention(q, k, v), plain, [randn([B, H, T, D], 1), randn([B, H, T, D], 2), randn([B, H, T, D], 3)]);
  assert.ok(r.value < 1e-5 && r.grads.every((e) => e < 1e-4), JSON.stringify(r));
});
}

test('fused rotary = x·cos + rotate_half(x)·sin on the first r dims, values and gradients', { skip }, () => {
  const [B, H, T, hs, r] = [2, 3, 5, 8, 4];
  // tables with distinct halves, so the test also covers cos/sin that are not cat(freqs, freqs)
  const cos = randn([T, r], 4), sin = randn([T, r], 5);
  const plain = (x: tf.Tensor) => {
    const xr = tf.slice(x, [0, 0, 0, 0], [B, H, T, r]);
    const x1 = tf.slice(xr, [0, 0, 0, 0], [B, H, T, r / 2]), x2 = tf.slice(xr, [0, 0, 0, r / 2], [B, H, T, r / 2]);
    const rot = tf.add(tf.mul(xr, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
    return tf.concat([rot, tf.slice(x, [0, 0, 0, r], [B, H, T, hs - r])], -1);
  };
  const res = fusedVsPlain((x) => fusedRotary(x, cos, sin), plain, [randn([B, H, T, hs], 1)]);
  assert.ok(res.value < 1e-6 && res.grads.every((e) => e < 1e-6), JSON.stringify(res));
});

test('fused GELU = x·½(1 + erf(x/√2)), values and gradient', { skip }, () => {
  const plain = (x: tf.Tensor) => tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
  const res = fusedVsPlain((x) => fusedGelu(x), plain, [randn([7, 33], 1, 2)]);
  assert.ok(res.value < 1e-6 && res.grads.every((e) => e < 1e-5), JSON.stringify(res));
});

test('fused layer norm = (x − mean)/√(var + eps)·γ + β, values and gradients', { skip }, () => {
  const plain = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const r = fusedVsPlain((x, g, b) => fusedLayerNorm(x, g, b, 1e-5), plain, [randn([3, 5, 16], 1, 2), randn([16], 2), randn([16], 3)]);
  assert.ok(r.value < 1e-5 && r.grads.every((e) => e < 1e-4), JSON.stringify(r));
});

test('fused cross-entropy = mean(logsumexp − target logit) over unmasked rows, value and gradient', { skip }, () => {
  const labels = tf.tensor1d([3, -1, 0, 9, 9, -1], 'int32');
  const keep = tf.tensor1d([1, 0, 1, 1, 1, 0]);
  const plain = (z: tf.Tensor) => {
    const safe = tf.tensor1d([3, 0, 0, 9, 9, 0], 'int32');  // masked rows point anywhere; keep zeroes them
    const zt = tf.sum(tf.mul(z, tf.oneHot(safe as tf.Tensor1D, 10).cast('float32')), -1);
    return tf.div(tf.sum(tf.mul(tf.sub(tf.logSumExp(z, -1), zt), keep)), tf.sum(keep));
  };
  const r = fusedVsPlain((z) => fusedCrossEntropy(z, labels), plain, [randn([6, 10], 1, 3)]);
  assert.ok(r.value < 1e-5 && r.grads.every((e) => e < 1e-4), JSON.stringify(r));
});

test('nativeAdamW matches the AdamW formulas (PyTorch order) over two steps', { skip }, () => {
  tf.setBackend('native');
  const hp = { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const p0 = randn([5, 3], 1), g1 = randn([5, 3], 2), g2 = randn([5, 3], 3);
  const p = tf.variable(p0.clone()), m = tf.variable(tf.zerosLike(p0)), v = tf.variable(tf.zerosLike(p0));
  const alias = tf.reshape(p, [15]);  // shares p's buffer: in-place update must not change it
  const before = Array.from(alias.dataSync());
  nativeAdamW([p], [g1], [m], [v], { ...hp, step: 1 });
  nativeAdamW([p], [g2], [m], [v], { ...hp, step: 2 });
  // reference, element by element in float64
  const P = Array.from(p0.dataSync()), G = [g1, g2].map((g) => Array.from(g.dataSync()));
  const M = P.map(() => 0), V = P.map(() => 0);
  G.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < P.length; i++) {
      P[i] *= 1 - hp.lr * hp.weightDecay;
      M[i] = hp.beta1 * M[i] + (1 - hp.beta1) * g[i];
      V[i] = hp.beta2 * V[i] + (1 - hp.beta2) * g[i] * g[i];
      P[i] -= (hp.lr * M[i] / (1 - hp.beta1 ** t)) / (Math.sqrt(V[i] / (1 - hp.beta2 ** t)) + hp.eps);
    }
  });
  const got = Array.from(p.dataSync());
  got.forEach((x, i) => assert.ok(Math.abs(x - P[i]) < 1e-5, `p[${i}] = ${x}, want ${P[i]}`));
  assert.deepEqual(Array.from(alias.dataSync()), before);
});

test('the code path in use is the one the CPU (or MIDTRAIN_NATIVE_ISA) asks for', { skip }, (t) => {
  assert.ok(load.ok);
  const isa = load.addon.info().isa;
  t.diagnostic(`code path in use: ${isa}`);
  console.log(`code path in use: ${isa}`);
  const forced = process.env.MIDTRAIN_NATIVE_ISA;
  if (forced && forced !== 'auto') assert.equal(isa, forced);
  else assert.ok(['avx512', 'avx2', 'generic'].includes(isa));
});

test('bad input gives a clear error naming the function and argument', { skip }, () => {
  assert.ok(load.ok);
  const addon = load.addon;
  assert.throws(() => addon.unary(0, new Float32Array(4), new Float32Array(2), 0), /unary argument 2: array too short/);
  assert.throws(() => addon.matmul(new Float32Array(4), new Int32Array(4) as unknown as Float32Array, new Float32Array(4), 1, 1, 2, 2, 2, false, false), /matmul argument 1: wrong TypedArray element type/);
});
