// A pretraining micro-batch whose logits exceed the device's largest storage binding (lavapipe: 128 MiB) is
// computed in pieces that fit: without that, WebGPU reports one validation error and the kernels read zeros.
// Known answer: the first step's loss is the mean of the rows' losses at the initial weights, each computed
// alone. Breaking the split (one piece of 2 rows) makes Dawn report the oversized binding. The check against
// the null device's own limit is in null-device.test.ts (a process that started the null device cannot start
// lavapipe afterwards).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount, webgpuDevice } from '../../src/backend/webgpu';
import { deviceMicroBatch, largestStepBuffers } from '../../src/backend/webgpu-fit';
import { batchLoss, initParams, disposeParams } from '../../src/model/gpt';
import { pretrain } from '../../src/train/pretrain';
import { MixtureSampler } from '../../src/train/sampler';
import type { ModelConfig, StepLog } from '../../src/runs/types';
import { microData, microPretrain } from '../engine/fixtures';

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('deviceMicroBatch: the micro-batch when it fits, else its largest divisor that does', () => {
  const cfg: ModelConfig = { vocabSize: 50304, dModel: 512, nLayers: 6, nHeads: 8, contextLength: 2048, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
  // Logits of one 2048-token row: 4 · 2048 · 50304 bytes = 393 MiB.
  assert.equal(deviceMicroBatch(cfg, 16, 2048, 'x', 2 ** 32 - 4), 8, '4 GiB holds 10 rows: 8 is the largest divisor of 16 that fits');
  assert.equal(deviceMicroBatch(cfg, 12, 2048, 'x', 2 ** 31), 4, '2 GiB holds 5 rows: 4 divides 12');
  assert.equal(deviceMicroBatch(cfg, 16, 512, 'x', 2 ** 31), 16, 'a micro-batch that fits is kept');
  assert.equal(deviceMicroBatch(cfg, 16, 512, 'x', undefined), 16, 'no device limit (another backend): kept');
  assert.throws(() => deviceMicroBatch(cfg, 16, 2048, 'pythia', 2 ** 27), /^Error: pythia: a micro-batch of 1 × 2048 tokens needs the logits .* no micro-batch fits: shorten the context$/);
});

test('pretraining on lavapipe: a micro-batch too big for one binding is computed in pieces, with the unsplit loss (lavapipe)', { skip, timeout: 300_000 }, async () => {
  const r = await tryWebgpuBackend({ lavapipe: true });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  try {
    const limit = webgpuDevice()!.limits.maxStorageBufferBindingSize;
    // Two rows of 256 tokens over 65,600 logits need 4 · 2 · 256 · 65,600 B > 128 MiB; one row fits.
    const model: ModelConfig = { vocabSize: 65_600, dModel: 16, nLayers: 1, nHeads: 2, contextLength: 256, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
    assert.ok(largestStepBuffers(model, 2, 256)[0].bytes > limit && largestStepBuffers(model, 1, 256)[0].bytes <= limit, `lavapipe's limit is ${limit}`);
    const config = microPretrain({ model, totalSteps: 2, batchSize: 2, microBatch: 2, evalEvery: 2, evalTokens: 512 });
    assert.equal(deviceMicroBatch(model, 2, 256, config.name), 1);
    const { roles } = microData();
    // The first step's rows, and their losses alone at the initial weights.
    const b = new MixtureSampler(config.mixture, config.totalSteps, roles, 256, config.seed).batch(0, 0, 2);
    const params = initParams(model, config.seed);
    const rowLoss = (k: number) => tf.tidy(() => batchLoss(params, model, { inputs: b.inputs.slice(k * 256, (k + 1) * 256), targets: b.targets.slice(k * 256, (k + 1) * 256), B: 1, T: 256 }).dataSync()[0]);
    const expected = (rowLoss(0) + rowLoss(1)) / 2;
    disposeParams(params);
    const logs: StepLog[] = [];
    for await (const l of pretrain(config, { shards: roles })) logs.push(l);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors (a binding beyond the limit?)');
    assert.equal(logs.length, 2);
    assert.ok(Math.abs(logs[0].trainLoss - expected) <= 1e-5 * expected, `step 1 loss ${logs[0].trainLoss}, rows alone ${expected}`);
    assert.ok(Number.isFinite(logs[1].val?.general) && logs[1].val!.general! > 0, `validation ran in pieces: ${JSON.stringify(logs[1].val)}`);
  } finally {
    releaseWebgpu();
  }
});
