// The GPU backends where the machine has them: webgpu on a real (non-software) adapter, and tfjs-node-gpu
// when it is installed. Each trains the shared small GPT a few steps and must match wasm loss for loss.
// On a machine without them (CI, laptops) each test is skipped and says why.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend } from '../../src/backend/choose';
import { releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { STEPS, batches, train } from './helpers';

async function wasmReference() {
  await initBackend({ backend: 'wasm', quiet: true });
  const ref = await train(batches());
  releaseBackend();
  return ref;
}

function assertSameLosses(got: number[], ref: number[], what: string): void {
  got.forEach((l, i) => assert.ok(Math.abs(l - ref[i]) <= 1e-4 * Math.max(1, Math.abs(ref[i])), `${what} step ${i}: ${l} vs wasm ${ref[i]}`));
}

/** Probes without keeping anything: a real adapter (not lavapipe/SwiftShader) or the reason there is none. */
async function realAdapter(): Promise<string | false> {
  if (process.env.MIDTRAIN_WEBGPU_LAVAPIPE === '1') return 'MIDTRAIN_WEBGPU_LAVAPIPE=1 forces the software adapter';
  const r = await tryWebgpuBackend({ allowSoftware: false });
  releaseWebgpu();
  return r.ok ? false : `no real WebGPU adapter: ${r.reason}`;
}

function tfjsNodeGpuMissing(): string | false {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    return false;
  } catch {
    return '@tensorflow/tfjs-node-gpu is not installed (README: Backends, and adding a CUDA GPU)';
  }
}

test('webgpu on a real GPU trains like wasm and leaks no tensors', { timeout: 300_000 }, async (t) => {
  const why = await realAdapter();
  if (why) return t.skip(why);
  const ref = await wasmReference();
  const r = await tryWebgpuBackend();
  assert.ok(r.ok, r.ok ? '' : r.reason);
  try {
    console.log(`# webgpu: ${r.detail}`);
    const got = await train(batches());
    assertSameLosses(got.losses, ref.losses, 'webgpu');
    assert.deepEqual(got.tensors.slice(1), got.tensors.slice(1).map(() => got.tensors[1]), `tensor counts per step: ${got.tensors}`);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
    assert.equal(got.losses.length, STEPS);
  } finally {
    releaseWebgpu();
  }
});

test('tfjs-node-gpu (tensorflow backend) trains like wasm', { timeout: 300_000 }, async (t) => {
  const why = tfjsNodeGpuMissing();
  if (why) return t.skip(why);
  const ref = await wasmReference();
  const report = await initBackend({ backend: 'tensorflow', quiet: true });
  console.log(`# tensorflow: ${report.detail}`);
  const got = await train(batches());
  assertSameLosses(got.losses, ref.losses, 'tensorflow');
  assert.equal(tf.getBackend(), 'tensorflow');
  releaseBackend();
});
