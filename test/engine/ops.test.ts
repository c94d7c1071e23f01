// Finite-difference gradient checks for every custom op (ops.ts), plus checks of the forward values.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { matmul, linear, layerNorm, gelu, embedding, crossEntropy, tokenLosses, causalAttention, rotary } from '../../src/model/ops';
import { setupBackend, gradCheck, randn } from './helpers';

before(setupBackend);

/** A fixed random projection makes a scalar of any op's output so every output element matters. */
const project = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, randn(y.shape, seed))) as tf.Scalar;

test('matmul: value and gradient for every transpose combination, 2-D and batched', () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const a = randn(ta ? [5, 3] : [3, 5], 1), b = randn(tb ? [4, 5] : [5, 4], 2);
    const ref = tf.matMul(a, b, ta, tb);
    assert.ok(tf.max(tf.abs(tf.sub(matmul(a, b, ta, tb), ref))).dataSync()[0] < 1e-5);
    const { rel, pairs } = gradCheck((x, y) => project(matmul(x, y, ta, tb), 3), [a, b]);
    assert.ok(rel < 2e-2, `transA=${ta} transB=${tb}: ${JSON.stringify(pairs)}`);
  }
  const qa = randn([2, 3, 4, 5], 4), qb = randn([2, 3, 6, 5], 5);
  const { rel, pairs } = gradCheck((x, y) => project(matmul(x, y, false, true), 6), [qa, qb]);
  assert.ok(rel < 2e-2, `batched: ${JSON.stringify(pairs)}`);
});

test('layerNorm: normalises rows and its analytic gradient matches finite differences', () => {
  const x = randn([6, 8], 10, 3), g = randn([8], 11), b = randn([8], 12);
  const y = layerNorm(x, tf.onesLike(g), tf.zerosLike(b), 1e-5);
  const m = tf.moments(y, -1);
  assert.ok(tf.max(tf.abs(m.mean)).dataSync()[0] < 1e-5);
  assert.ok(tf.max(tf.abs(tf.sub(m.variance, 1))).dataSync()[0] < 1e-3);
  const { rel, pairs } = gradCheck((xi, gi, bi) => project(layerNorm(xi, gi, bi, 1e-5), 13), [x, g, b]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
});

test('gelu: exact erf form (matches x·Φ(x)) and its gradient', () => {
  const x = tf.tensor1d([-3, -1, -0.5, 0, 0.5, 1, 3]);
  const want = [-0.00404951, -0.15865525, -0.15426877, 0, 0.34573123, 0.84134475, 2.99595049];
  const got = Array.from(gelu(x).dataSync());
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `gelu(${x.dataSync()[i]}) = ${v}, want ${want[i]}`));
  const { rel, pairs } = gradCheck((xi) => project(gelu(xi), 21), [randn([4, 9], 20, 2)]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
});

test('embedding: gathers rows, and repeated ids sum their gradients (scatterND)', () => {
  const w = randn([7, 4], 30);
  const ids = tf.tensor1d([3, 1, 3, 3, 0], 'int32');
  const rows = embedding(w, ids).arraySync() as number[][];
  assert.deepEqual(rows[0], (w.arraySync() as number[][])[3]);
  const g = tf.grad((wi: tf.Tensor) => tf.sum(embedding(wi, ids)))(w).arraySync() as number[][];
  assert.deepEqual(g.map((r) => r[0]), [1, 1, 0, 3, 0, 0, 0]);
  const { rel, pairs } = gradCheck((wi) => project(embedding(wi, ids), 31), [w]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
});

test('crossEntropy: equals mean(logsumexp − z[target]), weights mask tokens, gradient matches', () => {
  const z = randn([5, 11], 40, 2);
  const t = tf.tensor1d([0, 3, 10, 3, 7], 'int32');
  const zs = z.arraySync() as number[][];
  const ts = [0, 3, 10, 3, 7];
  const per = zs.map((row, i) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[ts[i]]);
  const mean = per.reduce((a, b) => a + b, 0) / per.length;
  assert.ok(Math.abs(crossEntropy(z, t).dataSync()[0] - mean) < 1e-4);
  assert.deepEqual(Array.from(tokenLosses(z, t).dataSync()).map((v) => v.toFixed(3)), per.map((v) => v.toFixed(3)));
  const w = tf.tensor1d([0, 1, 1, 0, 1]);
  const masked = (per[1] + per[2] + per[4]) / 3;
  assert.ok(Math.abs(crossEntropy(z, t, w).dataSync()[0] - masked) < 1e-4);
  for (const weights of [undefined, w]) {
    const { rel, pairs } = gradCheck((zi) => crossEntropy(zi, t, weights), [z], 1e-2);
    assert.ok(rel < 2e-2, JSON.stringify(pairs));
  }
});

test('causalAttention: rows are causal softmax averages of v, and q/k/v gradients match finite differences', () => {
  const q = randn([1, 2, 4, 3], 50), k = randn([1, 2, 4, 3], 51), v = randn([1, 2, 4, 3], 52);
  const out = causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D).arraySync() as number[][][][];
  // The first query sees only the first key: its output is v[0].
  assert.ok(out[0][1][0].every((x, j) => Math.abs(x - (v.arraySync() as number[][][][])[0][1][0][j]) < 1e-5));
  const { rel, pairs } = gradCheck((a, b, c) => project(causalAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), 53), [q, k, v]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
  // With a cache: 2 new queries against 4 keys attend like the last 2 rows of the full computation.
  const full = causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
  const tail = causalAttention(tf.slice(q, [0, 0, 2, 0], [1, 2, 2, 3]) as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
  assert.ok(tf.max(tf.abs(tf.sub(tail, tf.slice(full, [0, 0, 2, 0], [1, 2, 2, 3])))).dataSync()[0] < 1e-5);
});

test('rotary: rotate-half on the first r dims (pairs i, i + r/2), the rest passes through; gradient matches', () => {
  const x = randn([1, 2, 3, 6], 60);
  const ang = [0.3, -1.1, 2.0];
  const cos = tf.tensor2d(ang.flatMap((a) => [Math.cos(a), Math.cos(a / 2), Math.cos(a), Math.cos(a / 2)]), [3, 4]);
  const sin = tf.tensor2d(ang.flatMap((a) => [Math.sin(a), Math.sin(a / 2), Math.sin(a), Math.sin(a / 2)]), [3, 4]);
  const y = rotary(x as tf.Tensor4D, cos, sin).arraySync()[0][1][2];
  const xv = (x.arraySync() as number[][][][])[0][1][2];
  const a = ang[2];
  // dims (0, 2) rotate by angle a; (1, 3) by a/2; 4, 5 unchanged
  assert.ok(Math.abs(y[0] - (xv[0] * Math.cos(a) - xv[2] * Math.sin(a))) < 1e-5);
  assert.ok(Math.abs(y[2] - (xv[2] * Math.cos(a) + xv[0] * Math.sin(a))) < 1e-5);
  assert.ok(Math.abs(y[1] - (xv[1] * Math.cos(a / 2) - xv[3] * Math.sin(a / 2))) < 1e-5);
  assert.deepEqual([y[4], y[5]].map((v) => v.toFixed(5)), [xv[4], xv[5]].map((v) => v.toFixed(5)));
  const { rel, pairs } = gradCheck((xi) => project(rotary(xi as tf.Tensor4D, cos, sin), 61), [x]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
});

test('linear: x·W + b with its gradient for x, W and b', () => {
  const x = randn([5, 4], 70), w = randn([4, 3], 71), b = randn([3], 72);
  assert.ok(tf.max(tf.abs(tf.sub(linear(x, w, b), tf.add(tf.matMul(x, w), b)))).dataSync()[0] < 1e-5);
  const { rel, pairs } = gradCheck((xi, wi, bi) => project(linear(xi, wi, bi), 73), [x, w, b]);
  assert.ok(rel < 2e-2, JSON.stringify(pairs));
});
