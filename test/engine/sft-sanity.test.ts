// End-to-end checks of SFT accuracy where the right answer is known, through the real sft() loop (masking,
// schedule, batched decoding, option log-likelihood, checker): a learnable copy task must be learned, a
// multiple-choice task must be learned when its labels are real and stay at chance (25%, not 0) when they
// are shuffled. A decoder that loses the prompt scores ~0 on the first and chance on the second; one that
// scores nothing at all scores 0 on both. Plus unit checks of decoding: prompts are never cut, batched
// decoding equals one prompt at a time, stops end answers, option log-likelihoods equal the full forward's.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/choose';
import { replayPaddedLength, sft, sftBatch, sftTrainSubset, type SftResult } from '../../src/train/sft';
import { generate, generateBatch } from '../../src/train/generate';
import { continuationLogLik } from '../../src/train/loglik';
import { batchLoss, forward, initParams, disposeParams, paramsFromArrays, paramsToArrays } from '../../src/model/gpt';
import { MODEL_PRESETS } from '../../src/model/presets';
import { choiceLetter, choiceResponse } from '../../src/data/sft/checkers';
import type { SftExample, SftTask, Tokenizer } from '../../src/data/types';
import type { ModelConfig, SftConfig, StepLog } from '../../src/runs/types';
import { Rng } from '../../src/rng';
import { memoryShard } from './fixtures';
import { MICRO } from './helpers';

const CHARS = '0123456789 abcdefghijklmnopqrstuvwxyz.:=?\nABCD';
/** One id per character; eos after them. */
const tok: Tokenizer = {
  vocabSize: CHARS.length + 1,
  hash: 'sanity-chars',
  eosId: CHARS.length,
  encode: (s) => [...s].map((c) => CHARS.indexOf(c)).filter((i) => i >= 0),
  decode: (ids) => Array.from(ids).map((i) => CHARS[i] ?? '').join(''),
};

/**
 * The tiny preset's layout at half its width and depth (64 × 2 layers, 4 heads), rotary on every head
 * dimension, on this vocabulary and a context just long enough for the tasks: it learns them in ~100 steps,
 * which keeps these tests well under a minute on two cores.
 */
const MODEL: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: tok.vocabSize, contextLength: 64, dModel: 64, nLayers: 2, rotaryPct: 1 };

before(async () => {
  // The native backend is the fast CPU path; fall back to wasm where it is not built.
  try {
    await initBackend({ backend: (process.env.MIDTRAIN_BACKEND as 'native' | undefined) ?? 'native', quiet: true });
  } catch {
    await initBackend({ backend: 'wasm', quiet: true });
  }
});

function digits(r: Rng, n: number): string {
  return Array.from({ length: n }, () => String(r.int(10))).join('');
}

/** "copy 3816 =" → " 3816" (10⁴ possible answers: chance is nil, and a cut prompt cannot know them). */
function copyTask(seed: number, n: { train: number; test: number }, lengths = [4]): SftTask {
  const r = new Rng(seed);
  const ex = (split: string, i: number): SftExample => {
    const w = digits(r, lengths[r.int(lengths.length)]);
    return { id: `copy/${split}/${i}`, prompt: `copy ${w} =`, response: ` ${w}`, answer: w };
  };
  return {
    name: 'gsm', description: 'copy a digit string (sanity task)',
    train: Array.from({ length: n.train }, (_, i) => ex('train', i)),
    val: Array.from({ length: 32 }, (_, i) => ex('val', i)),
    test: Array.from({ length: n.test }, (_, i) => ex('test', i)),
    check: (generated, e) => generated.trim() === e.answer,
    maxNewTokens: 10,
  };
}

/**
 * "which is 7?" with four distinct digits as options A–D; the answer is the option holding the asked digit.
 * With `shuffled`, each training example's response names a random option instead (labels carry no
 * information), while val and test keep the real answers.
 */
function choiceTask(seed: number, n: { train: number; test: number }, shuffled: boolean): SftTask {
  const r = new Rng(seed);
  const ex = (split: string, i: number): SftExample => {
    const choices = r.shuffle([...'0123456789']).slice(0, 4);
    const pos = r.int(4);
    const shown = split === 'train' && shuffled ? r.int(4) : pos;
    return {
      id: `choice/${split}/${i}`,
      prompt: `which is ${choices[pos]}?\n${choices.map((c, k) => `${choiceLetter(k)}. ${c}`).join('\n')}\nanswer:`,
      response: choiceResponse(shown, choices[shown]), answer: choiceLetter(pos), choices,
    };
  };
  return {
    name: 'sciq', description: 'pick the option that holds the asked digit (sanity task)',
    train: Array.from({ length: n.train }, (_, i) => ex('train', i)),
    val: Array.from({ length: 32 }, (_, i) => ex('val', i)),
    test: Array.from({ length: n.test }, (_, i) => ex('test', i)),
    check: (generated, e) => generated.trim().startsWith(e.answer),
    maxNewTokens: 4,
  };
}

interface Trained { result: SftResult; logs: StepLog[]; params: Record<string, Float32Array> }

/** Fine-tune fresh tiny weights on `task` through sft(); keeps the final weights (via the last checkpoint). */
async function train(task: SftTask, over: Partial<SftConfig>): Promise<Trained> {
  const config: SftConfig = {
    kind: 'sft', name: `sanity/${task.description}`, preset: 'tiny', task: task.name, parent: { runId: 'none', atFraction: 1 },
    optim: { lr: 3e-3, minLr: 3e-4, warmupFraction: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 },
    epochs: 1, batchSize: 32, evalEvery: 100, evalTokens: 64, accuracyExamples: 200, seed: 1, ...over,
  };
  const general = new Rng(3);
  const generalVal = memoryShard('general/val', Uint16Array.from({ length: 256 }, () => general.int(tok.eosId)));
  const init = initParams(MODEL, 17);
  const start = { step: 0, params: paramsToArrays(init), sampler: { seed: config.seed, step: 0 } };
  disposeParams(init);
  let params: Record<string, Float32Array> = {};
  const gen = sft(config, { model: MODEL, task, tokenizer: tok, generalVal, start, resume: false, checkpointAt: () => true, onCheckpoint: (ck) => (params = ck.params) });
  const logs: StepLog[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { result: r.value, logs, params };
    logs.push(r.value);
  }
}

let copy: Trained | undefined;
async function copyModel(): Promise<Trained> {
  copy ??= await train(copyTask(1, { train: 4000, test: 200 }), { maxExamples: 4000 });
  return copy;
}

test('sanity: a copy task is learned through sft(), batched decoding and the checker (>= 90% on 200 test prompts)', async () => {
  const t0 = Date.now();
  const { result, logs } = await copyModel();
  console.log(`# copy: ${logs.length} steps, accuracy ${(100 * result.accuracy).toFixed(1)}% (${result.counts.correct}/${result.counts.n}), SFT val ${logs.at(-1)!.val!.sft!.toFixed(3)}, test loss ${result.test!.sft.toFixed(3)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(result.counts.method, 'generate');
  assert.equal(result.counts.n, 200);
  assert.equal(result.counts.dropped, 0);
  assert.ok(result.accuracy >= 0.9, `copy accuracy ${result.accuracy}: samples ${JSON.stringify(result.samples)}`);
  assert.equal(result.test!.examples, 200, 'test loss over the whole test split');
  assert.ok(result.test!.sft < 0.2, `test SFT loss ${result.test!.sft}`);
  assert.ok(logs[0].val && logs.at(-1)!.val, 'SFT val loss is logged after the first step and at the end');
});

test('sanity: batched decoding gives the same tokens as one prompt at a time (left padding, per-row stops)', async () => {
  const { params: arrays } = await copyModel();
  const p = paramsFromArrays(MODEL, arrays);
  // Lengths 2–6 so the group is left-padded; the model was trained on 4 (the outputs need not be right, only equal).
  const prompts = copyTask(9, { train: 0, test: 24 }, [2, 3, 4, 5, 6]).test.map((e) => tok.encode(e.prompt));
  assert.ok(new Set(prompts.map((x) => x.length)).size >= 3, 'prompts of several lengths');
  const opts = { maxNewTokens: 8, eosId: tok.eosId };
  const alone = prompts.map((x) => generate(p, MODEL, x, opts));
  const n = tf.memory().numTensors;
  assert.deepEqual(generateBatch(p, MODEL, prompts, { ...opts, batchSize: 7 }), alone);
  assert.equal(tf.memory().numTensors, n, 'batched decoding leaks no tensors');
  // A stop rule ends each row on its own: stop after the first digit.
  const stopped = generateBatch(p, MODEL, prompts, { ...opts, batchSize: 24, stop: (o) => /\d/.test(tok.decode(o)) });
  stopped.forEach((o, i) => assert.deepEqual(o, alone[i].slice(0, alone[i].findIndex((t) => /\d/.test(tok.decode([t]))) + 1)));
  disposeParams(p);
});

test('sanity: multiple choice by option log-likelihood — learned with real labels, at chance (25%) with shuffled ones', async () => {
  const t0 = Date.now();
  const real = await train(choiceTask(2, { train: 6400, test: 200 }, false), { maxExamples: 6400 });
  const tReal = (Date.now() - t0) / 1000;
  const shuffled = await train(choiceTask(2, { train: 1600, test: 400 }, true), { maxExamples: 1600, accuracyExamples: 400 });
  const tShuffled = (Date.now() - t0) / 1000 - tReal;
  const show = (r: SftResult) => `${(100 * r.accuracy).toFixed(1)}% (${r.counts.correct}/${r.counts.n}; length-normalised ${(100 * r.accuracyNormalised!).toFixed(1)}%)`;
  console.log(`# choice, real labels: ${show(real.result)}, ${tReal.toFixed(1)} s; shuffled labels: ${show(shuffled.result)}, ${tShuffled.toFixed(1)} s`);
  assert.equal(real.result.counts.method, 'loglik');
  assert.ok(real.result.accuracy >= 0.9, `real labels: ${real.result.accuracy}`);
  // 400 examples at p = 0.25: sd 2.2 points; [0.17, 0.33] is ±3.6 sd, and far from 0 and from 0.9.
  const acc = shuffled.result.accuracy;
  assert.equal(shuffled.result.counts.n, 400);
  assert.ok(acc > 0.17 && acc < 0.33, `shuffled labels should score chance (25%), got ${acc}`);
});

test('decoding: a prompt that fits is never cut (12 prompt tokens + 10 new in a context of 16 keeps all 12)', () => {
  const p = initParams(MICRO, 4);
  const prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];
  const fast = generate(p, MICRO, prompt, { maxNewTokens: 10 });
  assert.equal(fast.length, 5, 'new tokens capped at what the context leaves (16 − 12 + 1)');
  const ids = [...prompt];
  for (let i = 0; i < 5; i++) {
    ids.push(tf.tidy(() => tf.argMax(forward(p, MICRO, tf.tensor2d(ids, [1, ids.length], 'int32')).logits, -1).dataSync()[ids.length - 1]));
  }
  assert.deepEqual(fast, ids.slice(12), 'same tokens as the full, uncut prefix');
  disposeParams(p);
});

test('option log-likelihood equals the sum of log-softmax over the continuation from the full forward, with padding', () => {
  const p = initParams(MICRO, 5);
  const rows = [{ prompt: [1, 2, 3], continuation: [4, 5] }, { prompt: [7, 8, 9, 10, 11], continuation: [12] }, { prompt: [2], continuation: [3, 3, 3] }];
  const got = continuationLogLik(p, MICRO, rows, 2);
  rows.forEach((r, i) => {
    const ids = [...r.prompt, ...r.continuation];
    const want = tf.tidy(() => {
      const lp = tf.logSoftmax(forward(p, MICRO, tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32')).logits).arraySync() as number[][];
      return r.continuation.reduce((s, t, k) => s + lp[r.prompt.length - 1 + k][t], 0);
    });
    assert.ok(Math.abs(got[i] - want) < 1e-4, `row ${i}: ${got[i]} vs ${want}`);
  });
  disposeParams(p);
});

test('the SFT training subset is drawn by the seed: deterministic, of the asked size, different across seeds', () => {
  const xs = [...Array(100).keys()];
  const a = sftTrainSubset(xs, 32, 0);
  assert.equal(a.length, 32);
  assert.deepEqual(sftTrainSubset(xs, 32, 0), a);
  assert.notDeepEqual(sftTrainSubset(xs, 32, 1), a);
  assert.deepEqual([...a].sort((x, y) => x - y), a, 'kept in split order');
  assert.notDeepEqual(a, xs.slice(0, 32), 'not just the first examples');
  assert.equal(sftTrainSubset(xs, undefined, 3), xs);
  assert.equal(sftTrainSubset(xs, 500, 3), xs);
});

test('SFT padding for step replay: widths come in a few sizes, and the padded batch has the unpadded loss and gradients', () => {
  const widths = new Set(Array.from({ length: 2048 }, (_, i) => replayPaddedLength(i + 1, 2048)));
  assert.deepEqual([...widths], [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]);
  for (let t = 1; t <= 2048; t++) {
    const w = replayPaddedLength(t, 2048);
    assert.ok(w >= t && (t <= 16 || w < 1.5 * t), `T ${t} → ${w}: less than half again`);
  }
  assert.equal(replayPaddedLength(200, 160), 160, 'never beyond the context');
  // Examples of different lengths, prompts masked: padding to 48 must not change what the model learns from them.
  const cfg = { ...MICRO, vocabSize: tok.vocabSize, contextLength: 64 };
  const rng = new Rng(4);
  const examples = [9, 17, 30].map((n) => ({ ids: Array.from({ length: n }, () => rng.int(tok.vocabSize)), promptLen: Math.floor(n / 2) }));
  const params = initParams(cfg, 3);
  const lossAndGrads = (width: number) => tf.tidy(() => {
    const b = sftBatch(examples, width);
    const { value, grads } = tf.variableGrads(() => batchLoss(params, cfg, b));
    return { T: b.T, loss: value.dataSync()[0], grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array])) };
  });
  const plain = lossAndGrads(0), padded = lossAndGrads(replayPaddedLength(29, cfg.contextLength));
  assert.equal(plain.T, 29);
  assert.equal(padded.T, 32);
  assert.ok(Math.abs(plain.loss - padded.loss) < 1e-6 * plain.loss, `loss ${plain.loss} unpadded vs ${padded.loss} padded`);
  for (const [k, g] of Object.entries(plain.grads)) {
    const p = padded.grads[k];
    const scale = Math.max(...g.map(Math.abs));
    const diff = Math.max(...g.map((x, i) => Math.abs(x - p[i])));
    assert.ok(diff <= 1e-5 * scale + 1e-9, `${k}: gradients differ by ${diff} (largest ${scale})`);
  }
  disposeParams(params);
});
