// The webgpu path on a CPU machine: Dawn over Mesa 25's lavapipe (kernel-setup/lavapipe.sh fetches it
// into the cache). The same GPT, from the same initial weights, trains a few AdamW steps on wasm and on
// webgpu; the losses must agree, and a webgpu step must not leak tensors. Skips, saying why, when
// lavapipe has not been fetched (setup fetches it; `kernel-setup/lavapipe.sh` does it by hand).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend } from '../../src/backend/choose';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { countWebgpuCalls, perStep } from '../../src/backend/webgpu-stats';
import { OPT, STEPS, batches, train } from './helpers';

const lvp = lavapipeInfo();
const skip = lvp ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh; Dawn rejects Debian 12\'s own Mesa 22)';

test('webgpu on lavapipe trains like wasm: same losses from the same weights, no tensor leak', { skip, timeout: 240_000 }, async () => {
  const data = batches();
  await initBackend({ backend: 'wasm', quiet: true });
  const ref = await train(data);
  releaseBackend();

  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  try {
    assert.equal(tf.getBackend(), 'webgpu');
    console.log(`# webgpu: ${r.detail}`);
    const { result: got, counts } = await countWebgpuCalls(() => train(data));
    console.log(`# losses wasm   ${ref.losses.map((x) => x.toFixed(6)).join(' ')}`);
    console.log(`# losses webgpu ${got.losses.map((x) => x.toFixed(6)).join(' ')}`);
    const c = perStep(counts, STEPS);
    console.log(`# per step: ${c.kernels} kernels, ${c.dispatches} dispatches, ${c.submits} submits, ${c.createBuffer} createBuffer, ${c.mapAsync} readbacks`);
    console.log(`# grad norms wasm   ${ref.gradNorms.map((x) => x.toFixed(6)).join(' ')}`);
    console.log(`# grad norms webgpu ${got.gradNorms.map((x) => x.toFixed(6)).join(' ')}`);
    got.losses.forEach((l, i) => {
      assert.ok(Number.isFinite(l), `step ${i}: loss ${l}`);
      assert.ok(Math.abs(l - ref.losses[i]) <= 1e-4 * Math.max(1, Math.abs(ref.losses[i])), `step ${i}: webgpu ${l} vs wasm ${ref.losses[i]}`);
      // The norm is computed on the GPU there (webgpu-adamw.ts) and on the host here.
      assert.ok(Math.abs(got.gradNorms[i] - ref.gradNorms[i]) <= 1e-4 * Math.max(1, ref.gradNorms[i]), `step ${i}: grad norm webgpu ${got.gradNorms[i]} vs wasm ${ref.gradNorms[i]}`);
    });
    // Clipping (to 1.0) must have acted in some steps and not in others for this to test both paths.
    assert.ok(ref.gradNorms.some((n) => n > OPT.gradClip) && ref.gradNorms.some((n) => n <= OPT.gradClip), `norms ${ref.gradNorms}: want steps above and below the clip`);
    assert.ok(got.losses[STEPS - 1] < got.losses[0], 'training must lower the loss');
    // After the first step (which creates optimizer state), every step must leave the tensor count unchanged.
    assert.deepEqual(got.tensors.slice(1), got.tensors.slice(1).map(() => got.tensors[1]), `tensor counts per step: ${got.tensors}`);
    assert.ok(counts.dispatches > 0, 'the webgpu backend must have dispatched GPU work');
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors (see the first one above)');
  } finally {
    releaseWebgpu();
  }
});

test('mixed precision on lavapipe (f16 matmul tiles, f32 accumulation and weights): losses within 5e-4 of fp32 on the same data (measured 3e-5)', { skip, timeout: 240_000 }, async (t) => {
  const data = batches();
  const runWith = async (f16: boolean) => {
    const r = await tryWebgpuBackend({ lavapipe: true, f16 });
    if (!r.ok) return r.reason;
    try {
      return await train(data);
    } finally {
      releaseWebgpu();
    }
  };
  const fp32 = await runWith(false);
  const mixed = await runWith(true);
  if (typeof mixed === 'string') return t.skip(mixed); // no shader-f16 on this adapter
  assert.ok(typeof fp32 !== 'string', String(fp32));
  const deltas = mixed.losses.map((l, i) => Math.abs(l - fp32.losses[i]));
  console.log(`# losses fp32  ${fp32.losses.map((x) => x.toFixed(6)).join(' ')}`);
  console.log(`# losses f16   ${mixed.losses.map((x) => x.toFixed(6)).join(' ')}  (|Δ| ≤ ${Math.max(...deltas).toExponential(2)})`);
  deltas.forEach((d, i) => assert.ok(d <= 5e-4, `step ${i}: f16 loss ${mixed.losses[i]} vs fp32 ${fp32.losses[i]}`));
  // Mixed precision trains with dynamic loss scaling (2^16 to start); fp32 without. No step overflowed here.
  assert.deepEqual(fp32.lossScales, fp32.losses.map(() => undefined));
  assert.deepEqual(mixed.lossScales, mixed.losses.map(() => 2 ** 16));
  assert.equal(mixed.skipped, 0);
  mixed.gradNorms.forEach((g, i) => assert.ok(Math.abs(g - fp32.gradNorms[i]) <= 1e-2 * fp32.gradNorms[i], `step ${i}: unscaled gradient norm ${g} vs fp32 ${fp32.gradNorms[i]}`));
  // Rounding to f16 must show somewhere (else the flag did nothing), far below the tolerance.
  assert.ok(Math.max(...deltas) > 1e-7, `f16 losses equal fp32's exactly: ${mixed.losses}`);
  assert.equal(webgpuErrorCount(), 0);
});
