// The host's side of a webgpu training step, on Dawn's null device (nothing runs on any GPU, so no Vulkan
// driver is needed and CI has it wherever dawn.node loads). The per-step WebGPU call counts are what the host
// pays for on any GPU; this pins them so a change that brings back per-step buffer creation, a readback in the
// step, or a pile of extra dispatches fails here rather than on a GPU machine nobody has at hand.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseWebgpu, tryWebgpuBackend, webgpuDevice } from '../../src/backend/webgpu';
import { assertStepFits, largestStepBuffers } from '../../src/backend/webgpu-fit';
import { countWebgpuCalls, perStep } from '../../src/backend/webgpu-stats';
import { MODEL_PRESETS } from '../../src/model/presets';
import { initParams, disposeParams } from '../../src/model/gpt';
import { AdamW } from '../../src/train/optim';
import { optimizerStep, readStepStats } from '../../src/train/pretrain';
import { Rng } from '../../src/rng';
import type { OptimConfig } from '../../src/runs/types';

const OPT: OptimConfig = { lr: 3e-4, minLr: 3e-5, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

test('webgpu step on the null device: no buffers created, one readback, a bounded number of dispatches', { timeout: 120_000 }, async (t) => {
  const r = await tryWebgpuBackend({ nullDevice: true });
  if (!r.ok) return t.skip(`no Dawn null device: ${r.reason}`);
  try {
    const cfg = { ...MODEL_PRESETS.tiny, contextLength: 64 };
    const params = initParams(cfg, 1);
    const opt = new AdamW(params, OPT);
    const rng = new Rng(3);
    const B = 2, T = cfg.contextLength;
    const step = async (i: number) => {
      const b = { inputs: Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize)), targets: Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize)), B, T };
      await readStepStats(optimizerStep(params, cfg, opt, OPT.lr, OPT.gradClip, () => [b], 1), 'null-device', i);
    };
    for (let i = 1; i <= 2; i++) await step(i); // pipelines compiled, buffers pooled, optimizer state owned
    const before = tf.memory().numTensors;
    const STEPS = 3;
    const { counts } = await countWebgpuCalls(async () => { for (let i = 3; i < 3 + STEPS; i++) await step(i); });
    const c = perStep(counts, STEPS);
    const nParams = Object.keys(params).length;
    console.log(`# tiny (${cfg.nLayers} layers, ${nParams} parameters) per step: ${c.kernels} kernels, ${c.dispatches} dispatches, ${c.submits} submits, ${c.createBuffer} createBuffer, ${c.createBindGroup} bind groups created, ${c.writeBuffer} writeBuffer, ${c.mapAsync} readbacks`);
    assert.equal(c.createBuffer, 0, 'a steady-state step must not create GPU buffers (uploads go through queue.writeBuffer, buffers are pooled)');
    assert.equal(c.mapAsync, 1, 'one readback per step: the [loss, grad norm] pair');
    assert.equal(c.createComputePipeline, 0, 'no pipeline compiles after the first steps');
    // Measured 2026-11-28: 372 dispatches for tiny (4 layers, 52 parameters): the optimizer's 2 per parameter
    // + 1, and ~67 per layer for forward and backward. More means a kernel lost its fused form (docs/gpu.md).
    const budget = 2 * nParams + 1 + 70 * cfg.nLayers;
    assert.ok(c.dispatches <= budget, `dispatches per step ${c.dispatches} > budget ${budget}`);
    assert.ok(c.submits <= 8, `submits per step ${c.submits}`);
    // Tensors kept for backprop are references to the same GPU buffer (webgpu-saved-tensors.ts), not Identity
    // kernels: measured 2026-12-04, 222 kernels per step of which 12 Identity (3 per layer, from tf.clone in
    // gradients), against 358 with 148 Identity when every saved tensor ran one.
    assert.ok((c.byKernel.Identity ?? 0) <= 3 * cfg.nLayers, `Identity kernels per step ${c.byKernel.Identity}: saved tensors must not run it`);
    // Uniform blocks live in one buffer per distinct content, kept across steps (webgpu-bind-groups.ts): the
    // writes left are the step's uploads (token ids, scalars); measured 8 (275 when every dispatch wrote its uniforms).
    assert.ok(c.writeBuffer <= 16, `writeBuffer per step ${c.writeBuffer}: uniforms must not be rewritten every dispatch`);
    // The step's buffers are the previous step's, so its bind groups are reused: measured 0 created per step
    // (372, one per dispatch, before; 346 with the cache but tfjs's pool order).
    assert.ok(c.createBindGroup <= 0.05 * c.dispatches, `bind groups created per step ${c.createBindGroup} for ${c.dispatches} dispatches: the previous step's are not reused`);
    assert.ok(c.kernels <= 60 * cfg.nLayers, `tfjs kernels per step ${c.kernels} > budget ${60 * cfg.nLayers}`);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak per step');
    opt.dispose();
    disposeParams(params);
  } finally {
    releaseWebgpu();
  }
});

test('a step whose tensors exceed the device\'s largest binding is refused before it runs, naming the tensor and the micro-batch that fits', async (t) => {
  // Pythia-70M's logits at 16 × 512 tokens are 1.54 GiB; the WebGPU default binding limit is 128 MiB.
  const cfg = MODEL_PRESETS['pythia-70m'];
  assert.deepEqual(largestStepBuffers(cfg, 16, 512).map((b) => b.bytes), [4 * 16 * 512 * 50304, 4 * 16 * 8 * 512 * 512, 4 * 16 * 512 * 2048]);
  assert.throws(() => assertStepFits(cfg, 16, 512, 'pythia-70m/baseline', 2 ** 27),
    /^Error: pythia-70m\/baseline: a micro-batch of 16 × 512 tokens needs the logits \[16·512, 50304\] in one buffer of 1\.54 GiB, beyond the 128 MiB that .* can bind; use a micro-batch of at most 1$/);
  assert.doesNotThrow(() => assertStepFits(cfg, 1, 512, 'x', 2 ** 27), 'one row of 512 tokens fits 128 MiB');
  assert.doesNotThrow(() => assertStepFits(cfg, 16, 512, 'x', 2 ** 31), 'a 2 GiB binding holds it all');
  assert.throws(() => assertStepFits({ ...cfg, contextLength: 8192 }, 1, 8192, 'long', 2 ** 27), /no micro-batch fits: shorten the context$/);
  // The device's own limit is used when none is given; the null device keeps the adapter's.
  const r = await tryWebgpuBackend({ nullDevice: true });
  if (!r.ok) return t.skip(`no Dawn null device: ${r.reason}`);
  try {
    const limit = webgpuDevice()!.limits.maxStorageBufferBindingSize;
    assert.ok(limit >= 2 ** 27, `limit ${limit}`);
    const B = Math.floor(limit / (4 * 512 * 50304)) + 1;
    assert.throws(() => assertStepFits(cfg, B, 512, 'null'), new RegExp(`use a micro-batch of at most ${B - 1}$`));
  } finally {
    releaseWebgpu();
  }
});
