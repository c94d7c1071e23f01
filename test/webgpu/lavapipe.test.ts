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
import { initParams, batchLoss, disposeParams, type Batch } from '../../src/model/gpt';
import { AdamW, clipByGlobalNorm } from '../../src/train/optim';
import type { ModelConfig, OptimConfig } from '../../src/runs/types';
import { Rng } from '../../src/train/rng';

// Bigger than the engine's MICRO (more heads, rotary on part of each head) yet a step takes < 1 s on lavapipe.
const CFG: ModelConfig = { vocabSize: 97, dModel: 32, nLayers: 2, nHeads: 4, contextLength: 32, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
const OPT: OptimConfig = { lr: 3e-3, minLr: 3e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };
const STEPS = 4;
const B = 4, T = 32;

function batches(): Batch[] {
  const rng = new Rng(11);
  return Array.from({ length: STEPS }, () => {
    const toks = Int32Array.from({ length: B * (T + 1) }, () => Math.floor(rng.next() * CFG.vocabSize));
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      inputs.set(toks.subarray(b * (T + 1), b * (T + 1) + T), b * T);
      targets.set(toks.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
    }
    return { inputs, targets, B, T };
  });
}

/** STEPS AdamW steps from seed-42 weights; returns the loss before each step and tensor counts after each. */
async function train(data: Batch[]): Promise<{ losses: number[]; tensors: number[] }> {
  const params = initParams(CFG, 42);
  const opt = new AdamW(params, OPT);
  const losses: number[] = [], tensors: number[] = [];
  for (const batch of data) {
    const { value, grads: byVar } = tf.variableGrads(() => batchLoss(params, CFG, batch));
    // variableGrads keys by variable name; the optimizer wants parameter names.
    const grads = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, byVar[v.name]]));
    const { grads: clipped } = clipByGlobalNorm(grads, OPT.gradClip);
    opt.step(clipped, OPT.lr);
    losses.push((await value.data())[0]);
    value.dispose();
    for (const g of Object.values(clipped)) g.dispose();
    tensors.push(tf.memory().numTensors);
  }
  opt.dispose();
  disposeParams(params);
  return { losses, tensors };
}

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
    got.losses.forEach((l, i) => {
      assert.ok(Number.isFinite(l), `step ${i}: loss ${l}`);
      assert.ok(Math.abs(l - ref.losses[i]) <= 1e-4 * Math.max(1, Math.abs(ref.losses[i])), `step ${i}: webgpu ${l} vs wasm ${ref.losses[i]}`);
    });
    assert.ok(got.losses[STEPS - 1] < got.losses[0], 'training must lower the loss');
    // After the first step (which creates optimizer state), every step must leave the tensor count unchanged.
    assert.deepEqual(got.tensors.slice(1), got.tensors.slice(1).map(() => got.tensors[1]), `tensor counts per step: ${got.tensors}`);
    assert.ok(counts.dispatches > 0, 'the webgpu backend must have dispatched GPU work');
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors (see the first one above)');
  } finally {
    releaseWebgpu();
  }
});
