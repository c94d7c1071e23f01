// Step replay (MIDTRAIN_WEBGPU_REPLAY=1, src/backend/webgpu-replay.ts): a recorded training step re-issued
// without tfjs must give exactly the numbers the normal step gives. On lavapipe: the same weights, batches
// (new ones every step) and learning rates (changing every step) with replay off and on give bit-identical
// losses, gradient norms and final weights, with most steps really replayed; a step of another shape in the
// middle falls back to tfjs and is exact too; so are loss-scaled steps and the pretraining loop with its
// evaluations and checkpoints. On the null device: a replayed step runs no tfjs kernel at all
// and issues the normal step's dispatches. Skips, saying why, without lavapipe / dawn.node.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { replayStats } from '../../src/backend/webgpu-replay';
import { countWebgpuCalls, perStep } from '../../src/backend/webgpu-stats';
import { initParams, disposeParams, type Batch } from '../../src/model/gpt';
import { MODEL_PRESETS } from '../../src/model/presets';
import { AdamW } from '../../src/train/optim';
import { optimizerStep, pretrain, readStepStats, type StepStats } from '../../src/train/pretrain';
import { sft } from '../../src/train/sft';
import type { SftExample, SftTask, Tokenizer } from '../../src/data/types';
import type { LossScaleOptions } from '../../src/train/loss-scale';
import type { Checkpoint } from '../../src/train/checkpoint';
import type { StepLog } from '../../src/runs/types';
import { memoryShard, microData, microPretrain } from '../engine/fixtures';
import type { ModelConfig, SftConfig } from '../../src/runs/types';
import { Rng } from '../../src/rng';
import { CFG, OPT, onLavapipe } from './helpers';

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';
// The embedding's gradient (tf.scatterND) adds the rows of repeated ids with float atomics, so on lavapipe's
// worker threads two runs of the same normal step may differ in the last bit (measured: a gradient norm at
// step 9, 6e-8 apart). One rasteriser thread runs workgroups in order; then "bit-identical" is testable.
// Read when lavapipe starts, which is after this line (each test file runs in its own process).
process.env.LP_NUM_THREADS = '1';

/** Random ids and targets; `weighted`: loss weights too (as SFT has), 0 on about a third of the targets. */
function randomBatch(rng: Rng, cfg: ModelConfig, B: number, T: number, weighted = false): Batch {
  const tok = () => Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
  const b: Batch = { inputs: tok(), targets: tok(), B, T };
  if (weighted) b.weights = Float32Array.from({ length: B * T }, () => (rng.next() < 0.67 ? 1 : 0));
  return b;
}

/** Runs the steps (each a list of micro-batches) with replay on or off; the stats of each, the final weights and moments, the replay counters. */
async function run(steps: Batch[][], replay: boolean, lossScaling?: Partial<LossScaleOptions>, opts: { reloadAfter?: number; afterStep?: (opt: AdamW) => void } = { reloadAfter: 10 }): Promise<{ stats: StepStats[]; weights: Record<string, Float32Array>; replays: number; why?: string }> {
  const prev = process.env.MIDTRAIN_WEBGPU_REPLAY;
  process.env.MIDTRAIN_WEBGPU_REPLAY = replay ? '1' : '0';
  const params = initParams(CFG, 42);
  const opt = new AdamW(params, OPT, lossScaling ? { lossScaling } : {});
  try {
    const stats = [];
    for (const [i, micros] of steps.entries()) {
      const lr = OPT.lr * (1 - i / (2 * steps.length)); // a new learning rate every step
      stats.push(await readStepStats(optimizerStep(params, CFG, opt, lr, OPT.gradClip, () => micros, micros.length), 'replay test', i + 1));
      opts.afterStep?.(opt);
      // Reloading the optimizer's state gives its moments new buffers: a recording that still wrote the old
      // ones would lose the update from here on (it must be dropped and made again).
      if (i + 1 === opts.reloadAfter) opt.load(opt.state());
    }
    const weights = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, p.dataSync() as Float32Array]));
    const { m, v } = opt.state();
    for (const [k, x] of Object.entries(m)) weights[`adam.m.${k}`] = x;
    for (const [k, x] of Object.entries(v)) weights[`adam.v.${k}`] = x;
    return { stats, weights, replays: replayStats(opt).replays, why: replayStats(opt).lastFallback };
  } finally {
    opt.dispose();
    disposeParams(params);
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_REPLAY;
    else process.env.MIDTRAIN_WEBGPU_REPLAY = prev;
  }
}

/** Replay on must give the normal step's losses, gradient norms, final weights and Adam moments bit for bit. */
function assertBitIdentical(got: Awaited<ReturnType<typeof run>>, ref: Awaited<ReturnType<typeof run>>, label: (i: number) => string): void {
  got.stats.forEach((s, i) => {
    assert.equal(s.loss, ref.stats[i].loss, `${label(i)}: loss ${s.loss} vs ${ref.stats[i].loss} without replay`);
    assert.equal(s.gradNorm, ref.stats[i].gradNorm, `${label(i)}: grad norm ${s.gradNorm} vs ${ref.stats[i].gradNorm}`);
  });
  for (const [k, w] of Object.entries(got.weights)) assert.ok(Buffer.from(w.buffer).equals(Buffer.from(ref.weights[k].buffer)), `final ${k} differ`);
  assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
}

test('webgpu replay: bit-identical losses, gradient norms and weights to the normal step (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const rng = new Rng(5);
    const B = 2, T = CFG.contextLength;
    // 7 steps of one micro-batch (recorded twice, then replayed), one of two micro-batches (another key: falls
    // back to tfjs and records), then 4 of one micro-batch again (recorded anew; the optimizer's state is
    // reloaded after the 10th, which must drop that recording).
    // Every batch has loss weights (SFT's third per-step upload; the pretraining loop's test below has none).
    // B·T = 64 is below tfjs's CPU hand-off size (1000 elements): the normal step would compute the loss mask on
    // the host and upload it; a recorded step computes it on the device from the uploaded weights.
    const batch = () => randomBatch(rng, CFG, B, T, true);
    const steps: Batch[][] = [
      ...Array.from({ length: 7 }, () => [batch()]),
      [batch(), batch()],
      ...Array.from({ length: 4 }, () => [batch()]),
    ];
    const before = tf.memory().numTensors;
    const ref = await run(steps, false);
    const got = await run(steps, true);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.equal(ref.replays, 0);
    console.log(`# ${got.replays} of ${steps.length} steps replayed${got.why ? ` (last fallback: ${got.why})` : ""}`);
    assert.ok(got.replays >= 4, `only ${got.replays} of ${steps.length} steps were replayed`);
    got.stats.forEach((s, i) => assert.ok(Number.isFinite(s.loss) && s.loss > 0, `step ${i + 1}: loss ${s.loss}`));
    assertBitIdentical(got, ref, (i) => `step ${i + 1}`);
    // Different batches and rates give different numbers (a replay that reused the recorded ones would not).
    assert.equal(new Set(got.stats.map((s) => s.loss)).size, steps.length, 'every step has its own loss');
  });
});

test('webgpu replay: steps of several lengths in turn (SFT\'s padded widths) each replay their own recording, bit-identical (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const rng = new Rng(9);
    // Widths as replayPaddedLength gives them, interleaved the way SFT's shuffled batches come.
    const widths = [16, 24, 16, 24, 32, 16, 24, 32, 16, 24, 32, 16, 32, 24, 16, 32, 24, 24, 16, 32, 16, 24, 32, 16];
    const steps: Batch[][] = widths.map((T) => [randomBatch(rng, CFG, 2, T, true)]);
    const ref = await run(steps, false, undefined, {});
    const replayed: boolean[] = [];
    let recordings = 0, replays = 0;
    const got = await run(steps, true, undefined, {
      afterStep: (opt) => { const st = replayStats(opt); replayed.push(st.replays > replays); replays = st.replays; recordings = st.recordings; },
    });
    console.log(`# ${got.replays} of ${steps.length} steps replayed (${replayed.map((x) => (x ? 'R' : '.')).join('')}) over ${recordings} recordings`);
    // Adopting one width's recording takes its buffers out of the pool, so the others record again once
    // before they settle; after that every step replays.
    assert.equal(recordings, 3, 'one recording per width, kept side by side');
    assert.ok(replayed.slice(-6).every(Boolean), `the last 6 steps were not all replayed: ${replayed.map((x) => (x ? 'R' : '.')).join('')}`);
    assertBitIdentical(got, ref, (i) => `step ${i + 1} (T ${widths[i]})`);
  });
});

test('webgpu replay: dynamic loss scaling, its state updated in place on the device, replays exactly (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const rng = new Rng(8);
    const steps = Array.from({ length: 7 }, () => [randomBatch(rng, CFG, 2, CFG.contextLength)]);
    // The scale doubles every 2 clean steps, so replayed steps must carry the device's state forward.
    const scaling = { init: 1024, growthInterval: 2 };
    const ref = await run(steps, false, scaling);
    const got = await run(steps, true, scaling);
    console.log(`# ${got.replays} of ${steps.length} loss-scaled steps replayed${got.why ? ` (last fallback: ${got.why})` : ''}; scales ${got.stats.map((s) => s.lossScale).join(' ')}`);
    assert.ok(got.replays >= 3, `only ${got.replays} steps were replayed`);
    assert.deepEqual(got.stats, ref.stats, 'losses, gradient norms, scales and skips');
    assert.ok(new Set(got.stats.map((s) => s.lossScale)).size >= 3, 'the scale grew during the run');
    for (const [k, w] of Object.entries(got.weights)) assert.ok(Buffer.from(w.buffer).equals(Buffer.from(ref.weights[k].buffer)), `final ${k} differ`);
  });
});

/** Runs `body` with replay on or off, counting the tfjs kernels it runs (a replayed step runs none). */
async function countingKernels<T extends object>(replay: boolean, body: () => Promise<T>): Promise<T & { kernels: number }> {
  const prev = process.env.MIDTRAIN_WEBGPU_REPLAY;
  process.env.MIDTRAIN_WEBGPU_REPLAY = replay ? '1' : '0';
  const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
  const orig = engine.runKernel;
  let kernels = 0;
  engine.runKernel = function (this: unknown, ...a: unknown[]) { kernels++; return orig.apply(this, a); };
  try {
    return { ...(await body()), kernels };
  } finally {
    engine.runKernel = orig;
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_REPLAY;
    else process.env.MIDTRAIN_WEBGPU_REPLAY = prev;
  }
}

/** Micro pretraining (two micro-batches a step, warmup then cosine lr, evaluation and checkpoints between steps). */
function pretrainRun(replay: boolean): Promise<{ logs: StepLog[]; checkpoints: Checkpoint[]; kernels: number }> {
  return countingKernels(replay, async () => {
    const logs: StepLog[] = [], checkpoints: Checkpoint[] = [];
    const cfg = microPretrain({ totalSteps: 12, evalEvery: 5 });
    for await (const l of pretrain(cfg, { shards: microData().roles, checkpointAt: (s) => s % 4 === 0, onCheckpoint: (c) => checkpoints.push(c) })) logs.push(l);
    return { logs, checkpoints };
  });
}

const sameFloats = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('webgpu replay: the pretraining loop logs, evaluates and checkpoints exactly as without it (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const ref = await pretrainRun(false);
    const got = await pretrainRun(true);
    assert.equal(got.logs.length, 12);
    got.logs.forEach((l, i) => {
      const e = ref.logs[i];
      assert.equal(l.step, e.step);
      assert.equal(l.lr, e.lr);
      assert.equal(l.trainLoss, e.trainLoss, `step ${l.step}: loss`);
      assert.equal(l.gradNorm, e.gradNorm, `step ${l.step}: grad norm`);
      assert.deepEqual(l.val, e.val, `step ${l.step}: validation`);
    });
    assert.deepEqual(got.checkpoints.map((c) => c.step), [4, 8, 12]);
    got.checkpoints.forEach((c, i) => {
      const e = ref.checkpoints[i];
      assert.equal(c.adam!.t, e.adam!.t, `checkpoint ${c.step}: AdamW step count`);
      for (const [k, w] of Object.entries(c.params)) assert.ok(sameFloats(w, e.params[k]), `checkpoint ${c.step}: weights ${k}`);
      for (const [k, m] of Object.entries(c.adam!.m)) assert.ok(sameFloats(m, e.adam!.m[k]) && sameFloats(c.adam!.v[k], e.adam!.v[k]), `checkpoint ${c.step}: moments ${k}`);
    });
    // Replayed steps run no tfjs kernel: what is left is the recorded steps, evaluation and the checkpoints' reads.
    assert.ok(got.kernels < 0.6 * ref.kernels, `kernels with replay ${got.kernels}, without ${ref.kernels}: steps were not replayed`);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  });
});

test('webgpu replay on the null device: a replayed step runs no tfjs kernel and the normal step\'s dispatches', { timeout: 120_000 }, async (t) => {
  const r = await tryWebgpuBackend({ nullDevice: true });
  if (!r.ok) return t.skip(`no Dawn null device: ${r.reason}`);
  const prev = process.env.MIDTRAIN_WEBGPU_REPLAY;
  try {
    const cfg = { ...MODEL_PRESETS.tiny, contextLength: 64 };
    const params = initParams(cfg, 1);
    const opt = new AdamW(params, OPT);
    const rng = new Rng(3);
    const step = async (i: number) => {
      const b = randomBatch(rng, cfg, 2, cfg.contextLength);
      await readStepStats(optimizerStep(params, cfg, opt, OPT.lr, OPT.gradClip, () => [b], 1), 'null-device', i);
    };
    process.env.MIDTRAIN_WEBGPU_REPLAY = '0';
    for (let i = 1; i <= 2; i++) await step(i);
    const normal = perStep((await countWebgpuCalls(async () => { for (let i = 3; i <= 4; i++) await step(i); })).counts, 2);
    process.env.MIDTRAIN_WEBGPU_REPLAY = '1';
    for (let i = 5; i <= 7; i++) await step(i); // recorded twice, adopted
    const replayed = perStep((await countWebgpuCalls(async () => { for (let i = 8; i <= 10; i++) await step(i); })).counts, 3);
    console.log(`# tiny per step, normal → replayed: ${normal.kernels} → ${replayed.kernels} kernels, ${normal.dispatches} → ${replayed.dispatches} dispatches, ${normal.writeBuffer} → ${replayed.writeBuffer} writeBuffer, ${normal.submits} → ${replayed.submits} submits`);
    assert.ok(replayStats(opt).replays >= 3, `replays: ${JSON.stringify(replayStats(opt))}`);
    assert.ok(normal.kernels > 100, `normal step kernels ${normal.kernels}`);
    assert.equal(replayed.kernels, 0, 'a replayed step must not run tfjs kernels');
    assert.equal(replayed.dispatches, normal.dispatches, 'a replayed step issues the recorded dispatches');
    assert.equal(replayed.createBuffer, 0);
    assert.equal(replayed.createBindGroup, 0);
    assert.equal(replayed.mapAsync, 1, 'one readback per step: the stats');
    opt.dispose();
    disposeParams(params);
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_REPLAY;
    else process.env.MIDTRAIN_WEBGPU_REPLAY = prev;
    releaseWebgpu();
  }
});

/** A copy task over CFG's vocabulary with examples of 1–9 digits, so SFT batches come in several widths. */
const DIGITS = '0123456789 copy=';
const charTok: Tokenizer = {
  vocabSize: CFG.vocabSize, hash: 'replay-chars', eosId: DIGITS.length,
  encode: (s) => [...s].map((c) => DIGITS.indexOf(c)).filter((i) => i >= 0),
  decode: (ids) => Array.from(ids).map((i) => DIGITS[i] ?? '').join(''),
};
function varyingCopyTask(): SftTask {
  const rng = new Rng(21);
  const ex = (split: string, i: number): SftExample => {
    const w = Array.from({ length: 1 + rng.int(9) }, () => String(rng.int(10))).join('');
    return { id: `${split}/${i}`, prompt: `copy ${w} =`, response: ` ${w}`, answer: w };
  };
  const split = (name: string, n: number) => Array.from({ length: n }, (_, i) => ex(name, i));
  return { name: 'gsm', description: 'copy digits of varying length', train: split('train', 160), val: split('val', 8), test: split('test', 8), check: (g, e) => g.trim() === e.answer, maxNewTokens: 10 };
}

function sftRun(replay: boolean): Promise<{ logs: StepLog[]; kernels: number }> {
  return countingKernels(replay, async () => {
    const logs: StepLog[] = [];
    const config: SftConfig = {
      kind: 'sft', name: 'replay/sft', preset: 'tiny', task: 'gsm', parent: { runId: 'none', atFraction: 1 }, optim: { ...OPT, warmupFraction: 0.1 },
      epochs: 1, batchSize: 4, maxExamples: 160, evalEvery: 100, evalTokens: 64, accuracyExamples: 0, seed: 5,
    };
    const init = initParams(CFG, 17);
    const start = { step: 0, params: Object.fromEntries(Object.entries(init).map(([k, p]) => [k, p.dataSync() as Float32Array])), sampler: { seed: 5, step: 0 } };
    disposeParams(init);
    const generalVal = memoryShard('general/val', Uint16Array.from({ length: 256 }, (_, i) => i % charTok.eosId));
    const gen = sft(config, { model: CFG, task: varyingCopyTask(), tokenizer: charTok, generalVal, start, resume: false });
    for (;;) {
      const r = await gen.next();
      if (r.done) break;
      logs.push(r.value);
    }
    return { logs };
  });
}

test('webgpu replay: the SFT loop pads its batches to a few widths and replays them; losses as without replay (lavapipe)', { skip, timeout: 300_000 }, async () => {
  await onLavapipe(async () => {
    const ref = await sftRun(false);
    const got = await sftRun(true);
    assert.equal(got.logs.length, 40);
    console.log(`# SFT, 40 steps: ${ref.kernels} tfjs kernels without replay, ${got.kernels} with`);
    got.logs.forEach((l, i) => {
      const e = ref.logs[i];
      assert.equal(l.tokens, e.tokens, `step ${l.step}: tokens count the batch's own padding`);
      // Padded to another width the sums run in another order: equal to float rounding, not bit for bit.
      assert.ok(Math.abs(l.trainLoss - e.trainLoss) <= 1e-5 * e.trainLoss, `step ${l.step}: loss ${l.trainLoss} with replay, ${e.trainLoss} without`);
    });
    assert.ok(got.logs[39].trainLoss < got.logs[0].trainLoss, 'SFT learned');
    // The batches' own widths are 10–28; replay pads them to 16, 24 or 32, each recorded and then replayed
    // (measured: 0.31 of the kernels; unpadded, the widths that happen to recur replay too: 0.55).
    assert.ok(got.kernels < 0.4 * ref.kernels, `kernels with replay ${got.kernels}, without ${ref.kernels}: SFT steps were not replayed`);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  });
});
