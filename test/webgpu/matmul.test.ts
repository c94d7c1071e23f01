// Our WGSL matmul (src/backend/webgpu-matmul.ts) on lavapipe against a float64 product computed here, for
// every transposition variant (A·B, A·Bᵀ, Aᵀ·B, Aᵀ·Bᵀ), each tile size, odd shapes (scalar loads and
// edge tiles), aligned shapes (vec4 loads), batches and a broadcast batch; then through tf.matMul and the
// model's matmul gradient, so the registered kernel is what tfjs runs. Tolerance: |c − ref| ≤ 1e-5·Σ|a||b|
// + 1e-7 per element (fp32 accumulation of K terms), and 2⁻¹⁰·Σ|a||b| with f16 tiles (each input rounded
// to 11 significant bits). Skips, saying why, without lavapipe.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { MATMUL_TILES, chooseTile, matmulPlan, runMatmul, tfjsBatchMatMul, type MatmulTile } from '../../src/backend/webgpu-matmul';
import { countWebgpuCalls } from '../../src/backend/webgpu-stats';
import { Rng } from '../../src/rng';

function randn(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** op(A)·op(B) in float64 with the batch rules of tfjs (a batch of 1 broadcasts), and Σ|a||b| per element. */
function reference(a: Float32Array, b: Float32Array, batchA: number, batchB: number, M: number, N: number, K: number, tA: boolean, tB: boolean): { c: Float64Array; mag: Float64Array } {
  const batch = Math.max(batchA, batchB);
  const c = new Float64Array(batch * M * N), mag = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = batchA === 1 ? 0 : z * M * K, bo = batchB === 1 ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0, t = 0;
        for (let k = 0; k < K; k++) {
          const x = a[ao + (tA ? k * M + m : m * K + k)], y = b[bo + (tB ? n * K + k : k * N + n)];
          s += x * y;
          t += Math.abs(x * y);
        }
        c[z * M * N + m * N + n] = s;
        mag[z * M * N + m * N + n] = t;
      }
    }
  }
  return { c, mag };
}

interface Case { batchA: number; batchB: number; M: number; N: number; K: number; tA: boolean; tB: boolean }

async function check(cs: Case, run: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, rel: number, what: string): Promise<void> {
  const { batchA, batchB, M, N, K, tA, tB } = cs;
  const av = randn(batchA * M * K, M * 7 + K), bv = randn(batchB * K * N, N * 13 + K + 1);
  const shape = (batch: number, r: number, c: number) => (batch === 1 && batchA === batchB ? [r, c] : [batch, r, c]);
  const a = tf.tensor(av, shape(batchA, tA ? K : M, tA ? M : K)), b = tf.tensor(bv, shape(batchB, tB ? N : K, tB ? K : N));
  const out = run(a, b);
  const got = await out.data();
  const { c, mag } = reference(av, bv, batchA, batchB, M, N, K, tA, tB);
  assert.equal(got.length, c.length, `${what}: output size`);
  let worst = 0, at = -1;
  for (let i = 0; i < c.length; i++) {
    const r = Math.abs(got[i] - c[i]) / (mag[i] + 1e-2);
    if (r > worst) { worst = r; at = i; }
  }
  assert.ok(worst <= rel, `${what} ${JSON.stringify(cs)}: worst |c − ref|/Σ|a||b| = ${worst.toExponential(2)} at ${at} (got ${got[at]}, want ${c[at]})`);
  tf.dispose([a, b, out]);
}

const VARIANTS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
// Odd (scalar loads, partial edge tiles, K not a multiple of the 16-deep tile) and aligned (vec4 loads, a batch).
const SHAPES: Omit<Case, 'tA' | 'tB'>[] = [
  { batchA: 1, batchB: 1, M: 37, N: 29, K: 19 },
  { batchA: 3, batchB: 3, M: 24, N: 16, K: 40 },
];

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('webgpu matmul: all transposition variants, every tile, odd and aligned shapes, batches, against float64', { skip, timeout: 600_000 }, async () => {
  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    const ours = (tile: MatmulTile, tA: boolean, tB: boolean) => (a: tf.Tensor, b: tf.Tensor) => tf.engine().makeTensorFromTensorInfo(runMatmul(a, b, tA, tB, { tile }));
    // Every variant on the small tile (each variant is its own shader: lavapipe compiles are slow, so the
    // larger tiles get two cases each, with edge tiles in both directions).
    const small = MATMUL_TILES[MATMUL_TILES.length - 1];
    for (const [tA, tB] of VARIANTS) for (const s of SHAPES) await check({ ...s, tA, tB }, ours(small, tA, tB), 1e-5, 'tile 32x32');
    await check({ batchA: 2, batchB: 1, M: 17, N: 8, K: 24, tA: false, tB: true }, ours(small, false, true), 1e-5, 'broadcast b');
    await check({ batchA: 1, batchB: 2, M: 12, N: 20, K: 8, tA: true, tB: false }, ours(small, true, false), 1e-5, 'broadcast a');
    for (const tile of MATMUL_TILES.slice(0, -1)) {
      await check({ batchA: 1, batchB: 1, M: 140, N: 72, K: 36, tA: false, tB: false }, ours(tile, false, false), 1e-5, `tile ${tile.TM}x${tile.TN}`);
      await check({ batchA: 1, batchB: 1, M: 131, N: 67, K: 21, tA: true, tB: true }, ours(tile, true, true), 1e-5, `tile ${tile.TM}x${tile.TN}`);
    }
    assert.equal(webgpuErrorCount(), 0, 'no Dawn validation errors');
  } finally {
    releaseWebgpu();
  }
});

test('webgpu matmul: registered as BatchMatMul (tf.matMul, 4-D attention shapes), one dispatch per product, same values as tfjs\'s kernel', { skip, timeout: 300_000 }, async () => {
  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    await check({ batchA: 1, batchB: 1, M: 33, N: 20, K: 12, tA: true, tB: false }, (a, b) => tf.matMul(a, b, true, false), 1e-5, 'tf.matMul');
    // [B, H, T, D] products as the attention has them, against tfjs's own kernel.
    const q = tf.randomNormal([2, 3, 16, 8], 0, 1, 'float32', 1), k = tf.randomNormal([2, 3, 16, 8], 0, 1, 'float32', 2);
    const ours = tf.matMul(q, k, false, true);
    assert.deepEqual(ours.shape, [2, 3, 16, 16]);
    const theirs = tf.engine().makeTensorFromTensorInfo(tfjsBatchMatMul()!({ inputs: { a: q, b: k }, backend: tf.backend(), attrs: { transposeA: false, transposeB: true } }));
    const [x, y] = [await ours.data(), await theirs.data()];
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1e-5 * (1 + Math.abs(y[i])), `q·kᵀ element ${i}: ${x[i]} vs tfjs ${y[i]}`);
    const { counts } = await countWebgpuCalls(() => tf.tidy(() => tf.matMul(q, k, false, true)));
    assert.equal(counts.dispatches, 1, 'one dispatch per product');
    tf.dispose([q, k, ours, theirs]);
    assert.equal(webgpuErrorCount(), 0);
  } finally {
    releaseWebgpu();
  }
});

test('webgpu matmul with f16 tiles (mixed precision): within 2⁻¹⁰·Σ|a||b|, and visibly rounded', { skip, timeout: 300_000 }, async (t) => {
  const w = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(w.ok, w.ok ? '' : w.reason);
  try {
    if (!w.adapter.features.includes('shader-f16')) return t.skip('adapter has no shader-f16');
    for (const [tA, tB] of [[false, false], [true, true]]) {
      await check({ batchA: 1, batchB: 1, M: 40, N: 36, K: 50, tA, tB }, (a, b) => tf.engine().makeTensorFromTensorInfo(runMatmul(a, b, tA, tB, { f16: true })), 2 ** -10, 'f16');
    }
    // f16 really is used: 1 + 2⁻¹² rounds to 1 in f16, so (1 + 2⁻¹²)·1 reads 1 (exactly 1 + 2⁻¹² in f32).
    const a = tf.fill([4, 4], 1 + 2 ** -12), b = tf.eye(4);
    const c = await tf.engine().makeTensorFromTensorInfo(runMatmul(a, b, false, false, { f16: true })).data();
    assert.equal(c[0], 1);
    assert.equal(webgpuErrorCount(), 0);
  } finally {
    releaseWebgpu();
  }
});

test('matmul plan: tfjs shapes, broadcast batches, and tiles chosen by shape', () => {
  assert.deepEqual(matmulPlan([2, 3, 5, 7], [2, 3, 7, 4], false, false)?.outShape, [2, 3, 5, 4]);
  assert.deepEqual(matmulPlan([7, 5], [3, 4, 7], true, true)?.outShape, [3, 5, 4]);
  assert.equal(matmulPlan([2, 5, 7], [3, 7, 4], false, false), undefined, 'unequal batches go to tfjs');
  assert.equal(matmulPlan([0, 7], [7, 4], false, false), undefined, 'empty goes to tfjs');
  assert.equal(matmulPlan([2, 5, 7], [7, 4], false, false)?.strideB, 0, 'a 2-D b broadcasts');
  // Pythia-70M at B 16, T 512: the 8192×512·512×2048 MLP product fills a GPU with the largest tile; a 16×16 one does not.
  assert.equal(chooseTile({ batch: 1, M: 8192, N: 2048, K: 512 }).TM, 128);
  assert.equal(chooseTile({ batch: 1, M: 16, N: 16, K: 512 }).TM, 32);
});
