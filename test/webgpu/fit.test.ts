// A pretraining micro-batch whose logits exceed the device's largest storage binding (lavapipe: 128 MiB) is
// computed in pieces that fit: without that, WebGPU reports one validation error and the kernels read zeros.
// Known answer: the first step's loss is the mean of the rows' losses at the initial weights, each computed
// alone. Breaking the split (one piece of 2 rows) makes Dawn report the oversized binding. The check against
// the null device's own limit is in null-device.test.ts (a process that started the null device cannot start
// lavapipe afterwards).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, webgpuErrorCount, webgpuDevice } from '../../src/backend/webgpu';
import { rowsThatFit, largestStepBuffers } from '../../src/backend/webgpu-fit';
import { batchLoss, initParams, disposeParams } from '../../src/model/gpt';
import { pretrain } from '../../src/train/pretrain';
import { encodeExample, sft, sftBatch } from '../../src/train/sft';
import { Rng } from '../../src/rng';
import type { SftExample, SftTask, Tokenizer } from '../../src/data/types';
import { MixtureSampler } from '../../src/train/sampler';
import type { ModelConfig, SftConfig, StepLog } from '../../src/runs/types';
import { memoryShard, microData, microPretrain } from '../engine/fixtures';
import { onLavapipe } from './helpers';

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('rowsThatFit: the micro-batch when it fits, else its largest divisor that does', () => {
  const cfg: ModelConfig = { vocabSize: 50304, dModel: 512, nLayers: 6, nHeads: 8, contextLength: 2048, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
  // Logits of one 2048-token row: 4 · 2048 · 50304 bytes = 393 MiB.
  assert.equal(rowsThatFit(cfg, 16, 2048, 'x', 2 ** 32 - 4), 8, '4 GiB holds 10 rows: 8 is the largest divisor of 16 that fits');
  assert.equal(rowsThatFit(cfg, 12, 2048, 'x', 2 ** 31), 4, '2 GiB holds 5 rows: 4 divides 12');
  assert.equal(rowsThatFit(cfg, 16, 512, 'x', 2 ** 31), 16, 'a micro-batch that fits is kept');
  assert.equal(rowsThatFit(cfg, 16, 512, 'x', undefined), 16, 'no device limit (another backend): kept');
  assert.throws(() => rowsThatFit(cfg, 16, 2048, 'pythia', 2 ** 27), /^Error: pythia: a micro-batch of 1 × 2048 tokens needs the logits .* no micro-batch fits: shorten the context$/);
});

test('pretraining on lavapipe: a micro-batch too big for one binding is computed in pieces, with the unsplit loss (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const limit = webgpuDevice()!.limits.maxStorageBufferBindingSize;
    // Two rows of 256 tokens over 65,600 logits need 4 · 2 · 256 · 65,600 B > 128 MiB; one row fits.
    const model: ModelConfig = { vocabSize: 65_600, dModel: 16, nLayers: 1, nHeads: 2, contextLength: 256, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
    assert.ok(largestStepBuffers(model, 2, 256)[0].bytes > limit && largestStepBuffers(model, 1, 256)[0].bytes <= limit, `lavapipe's limit is ${limit}`);
    const config = microPretrain({ model, totalSteps: 2, batchSize: 2, microBatch: 2, evalEvery: 2, evalTokens: 512 });
    assert.equal(rowsThatFit(model, 2, 256, config.name), 1);
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
  });
});

test('SFT on lavapipe: a batch too big for one binding is computed in pieces weighted by their response tokens (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const model: ModelConfig = { vocabSize: 70_000, dModel: 16, nLayers: 1, nHeads: 2, contextLength: 256, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };
    const chars = '0123456789 copy=';
    const tok: Tokenizer = { vocabSize: model.vocabSize, hash: 'fit-chars', eosId: chars.length, encode: (s) => [...s].map((c) => chars.indexOf(c)), decode: (ids) => Array.from(ids).map((i) => chars[i] ?? '').join('') };
    // Two examples whose responses differ in length (41 and 181 tokens): a plain average of the two pieces'
    // means would weigh the short one's tokens 3× as much as the whole batch's mean does.
    const rng = new Rng(2);
    const digits = (n: number) => Array.from({ length: n }, () => String(rng.int(10))).join('');
    const ex = (id: string, n: number, m: number): SftExample => { const w = digits(n); return { id, prompt: `copy ${w} =`, response: ` ${digits(m)}`, answer: '' }; };
    const train = [ex('a', 150, 40), ex('b', 60, 180)];
    const task: SftTask = { name: 'gsm', description: 'long copies', train, val: [train[0]], test: [train[1]], check: () => false, maxNewTokens: 1 };
    const config: SftConfig = {
      kind: 'sft', name: 'fit/sft', preset: 'tiny', task: 'gsm', parent: { runId: 'none', atFraction: 1 }, optim: { lr: 1e-3, minLr: 1e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 },
      epochs: 1, batchSize: 2, evalEvery: 100, evalTokens: 256, accuracyExamples: 0, seed: 1,
    };
    const init = initParams(model, 5);
    const start = { step: 0, params: Object.fromEntries(Object.entries(init).map(([k, p]) => [k, p.dataSync() as Float32Array])), sampler: { seed: 1, step: 0 } };
    // Each example alone at the initial weights: its mean loss over its response tokens, and their number.
    const encoded = train.map((e) => encodeExample(e, tok, model.contextLength)!);
    const alone = encoded.map((e) => {
      const b = sftBatch([e]);
      return { loss: tf.tidy(() => batchLoss(init, model, b).dataSync()[0]), n: b.weights!.reduce((s, w) => s + w, 0) };
    });
    disposeParams(init);
    assert.ok(largestStepBuffers(model, 2, sftBatch(encoded).T)[0].bytes > webgpuDevice()!.limits.maxStorageBufferBindingSize, 'the batch of two does not fit one binding');
    const weighted = (alone[0].loss * alone[0].n + alone[1].loss * alone[1].n) / (alone[0].n + alone[1].n);
    const plain = (alone[0].loss + alone[1].loss) / 2;
    const generalVal = memoryShard('general/val', Uint16Array.from({ length: 600 }, (_, i) => i % 11));
    const gen = sft(config, { model, task, tokenizer: tok, generalVal, start, resume: false });
    const logs: StepLog[] = [];
    for (let x = await gen.next(); !x.done; x = await gen.next()) logs.push(x.value);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors (a binding beyond the limit?)');
    assert.equal(logs.length, 1);
    // At initial weights every token's loss is near ln V, so the two means differ little: 10× the tolerance below.
    assert.ok(Math.abs(weighted - plain) > 1e-4 * weighted, `the test needs the weighting to matter: ${weighted} vs ${plain}`);
    assert.ok(Math.abs(logs[0].trainLoss - weighted) <= 1e-5 * weighted, `step 1 loss ${logs[0].trainLoss}; token-weighted ${weighted}, plain mean ${plain}`);
    assert.ok(Number.isFinite(logs[0].val?.sft) && Number.isFinite(logs[0].val?.general), `evaluation ran in pieces: ${JSON.stringify(logs[0].val)}`);
  });
});
