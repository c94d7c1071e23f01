// Supervised fine-tuning on prompt/response pairs with the loss on response tokens only (prompt masked),
// for a number of epochs, with in-domain val loss, general val loss (forgetting) and, at the end, task
// accuracy by greedy decoding through the task's answer checker.
import type { ModelConfig, SftConfig, StepLog } from '../runs/types';
import type { SftExample, SftTask, TokenShard, Tokenizer } from '../data/types';
import { paramsFromArrays, paramsToArrays, disposeParams, type Batch, type Params } from '../model/gpt';
import { AdamW, lrAt } from './optim';
import { Rng, mixSeed } from '../rng';
import { evaluate } from './evaluate';
import { valWindows } from './sampler';
import { generateBatch } from './generate';
import { scoreChoices } from './loglik';
import { choiceLetter, choiceResponse } from '../data/sft/checkers';
import { sftExampleFits } from '../data/sft/fit';
import { batchPieces, optimizerStep, readStepStats, yieldToEventLoop, type TrainHooks } from './pretrain';
import { replayWanted } from '../backend/webgpu-replay';
import { rowsThatFit } from '../backend/webgpu-fit';
import type { Checkpoint } from './checkpoint';

/** One tokenised example: ids = prompt + response + eos; `promptLen` ids are masked out of the loss. */
export interface EncodedExample {
  ids: number[];
  promptLen: number;
}

/**
 * Tokenise an example whole, or return null when prompt + response + eos does not fit the context (+1, since
 * inputs are ids[:-1]). Nothing is ever cut: a cut prompt makes the response's loss nearly unconditional.
 */
export function encodeExample(ex: SftExample, tok: Tokenizer, contextLength: number): EncodedExample | null {
  const prompt = tok.encode(ex.prompt);
  const response = tok.encode(ex.response);
  if (!sftExampleFits(prompt.length, response.length, contextLength)) return null;
  return { ids: [...prompt, ...response, tok.eosId], promptLen: prompt.length };
}

/** The examples that fit the context, encoded, and how many did not. */
export function encodeFitting(examples: SftExample[], tok: Tokenizer, contextLength: number): { kept: SftExample[]; encoded: EncodedExample[]; dropped: number } {
  const kept: SftExample[] = [];
  const encoded: EncodedExample[] = [];
  for (const ex of examples) {
    const e = encodeExample(ex, tok, contextLength);
    if (e) {
      kept.push(ex);
      encoded.push(e);
    }
  }
  return { kept, encoded, dropped: examples.length - kept.length };
}

/**
 * The training subset of a run: `max` examples drawn by the run's seed (all when max is absent or not
 * smaller), in the split's order. A pure function of (examples, max, seed), so a resumed run trains on the
 * same subset and different seeds see different data.
 */
export function sftTrainSubset<T>(examples: T[], max: number | undefined, seed: number): T[] {
  if (max === undefined || max >= examples.length) return examples;
  const picked = new Rng(mixSeed(seed, 0x5b5e7)).shuffle([...examples.keys()]).slice(0, Math.max(0, max));
  return picked.sort((a, b) => a - b).map((i) => examples[i]);
}

/**
 * Pad a list of examples into a batch; weights are 1 exactly on targets that are response tokens. The width is
 * the longest example's, or `width` when that is more (the extra targets have weight 0).
 */
export function sftBatch(examples: EncodedExample[], width = 0): Batch {
  const T = Math.max(width, ...examples.map((e) => e.ids.length - 1));
  const B = examples.length;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T);
  examples.forEach((e, r) => {
    for (let t = 0; t < e.ids.length - 1; t++) {
      inputs[r * T + t] = e.ids[t];
      targets[r * T + t] = e.ids[t + 1];
      // target t is token t+1: a response token when t+1 ≥ promptLen
      weights[r * T + t] = t + 1 >= e.promptLen ? 1 : 0;
    }
  });
  return { inputs, targets, weights, B, T };
}

/**
 * The width a training batch is padded to when the GPU replays recorded steps (webgpu-replay.ts): the longest
 * example's length rounded up to 2^k or 1.5·2^k (at least 16, at most the context), so a run's steps come in a
 * few shapes whose recordings recur instead of one new shape per step. Padding appends targets of weight 0;
 * the model is causal and the loss a weighted mean, so the loss and gradients are the unpadded batch's (up to
 * the order of float sums); it costs less than half again as many tokens per step, 18% more on average over evenly spread lengths.
 */
export function replayPaddedLength(T: number, context: number): number {
  let w = 16;
  while (w < T) w = w % 3 === 0 ? (w / 3) * 4 : (w / 2) * 3; // 16, 24, 32, 48, 64, 96, …
  return Math.min(w, context);
}

export function sftStepsPerEpoch(nExamples: number, batchSize: number): number {
  return Math.ceil(nExamples / batchSize);
}

/** The examples of optimizer step `step`: each epoch is a fresh seeded shuffle, so any step can be rebuilt alone. */
export function sftStepExamples(n: number, batchSize: number, seed: number, step: number): number[] {
  const spe = sftStepsPerEpoch(n, batchSize);
  const epoch = Math.floor(step / spe);
  const order = new Rng(mixSeed(seed, epoch, 0x5f7)).shuffle([...Array(n).keys()]);
  const i = (step % spe) * batchSize;
  return order.slice(i, i + batchSize);
}

export interface SftOptions extends TrainHooks {
  model: ModelConfig;
  task: SftTask;
  tokenizer: Tokenizer;
  /** The general role's val split: forgetting is measured on it. */
  generalVal: TokenShard;
  /** Parent weights (fresh optimizer) or this run's own checkpoint with moments (resume). */
  start: Checkpoint;
  /** True when `start` is this run's own checkpoint: keep its step and optimizer state. */
  resume: boolean;
}

export interface SftResult {
  /** correct / n on the scored test examples (NaN when none). */
  accuracy: number;
  /** What the accuracy is made of, so reports can pool over seeds; dropped = test examples that did not fit the context. */
  counts: { correct: number; n: number; dropped: number; method: 'generate' | 'loglik' };
  /** Multiple choice only: accuracy when each option's log-likelihood is divided by its length in bytes (lm-evaluation-harness acc_norm). */
  accuracyNormalised?: number;
  /** SFT loss (response tokens) on the task's test split, a split the LR was not chosen on. */
  test?: { sft: number; examples: number };
  /** The first few answers, for eyeballing in a notebook. */
  samples: { id: string; generated: string; correct: boolean }[];
}

/** Prompts decoded (or option sets scored) per forward batch at the end of a run. */
export const DECODE_BATCH = 16;

/**
 * Accuracy on the first n test examples. Multiple choice (examples with `choices`) is scored by the summed
 * log-likelihood of each option's response, the highest wins (lm-evaluation-harness "acc"; the byte-length
 * normalised variant is reported beside it); other tasks by greedy decoding through the task's checker,
 * stopping at the task's answer end. Examples whose prompt and reference response do not fit the context are
 * dropped and counted, never cut.
 */
export function taskAccuracy(params: Params, cfg: ModelConfig, task: SftTask, tok: Tokenizer, n: number, batchSize = DECODE_BATCH): Omit<SftResult, 'test'> {
  const { kept, dropped } = encodeFitting(task.test.slice(0, n), tok, cfg.contextLength);
  const samples: SftResult['samples'] = [];
  let correct = 0;
  if (kept.length > 0 && kept.every((ex) => ex.choices && ex.choices.length > 0)) {
    // An example whose longest option does not fit the context is dropped like one whose prompt does not.
    const scored = scoreChoices(params, cfg, tok, kept, batchSize);
    let correctNorm = 0, n = 0;
    scored.forEach((sc, i) => {
      if (!sc) return;
      const ex = kept[i];
      n++;
      const ok = choiceLetter(sc.best) === ex.answer;
      if (ok) correct++;
      if (choiceLetter(sc.bestNormalised) === ex.answer) correctNorm++;
      if (samples.length < 5) samples.push({ id: ex.id, generated: choiceResponse(sc.best, ex.choices![sc.best]), correct: ok });
    });
    return {
      accuracy: n ? correct / n : NaN, accuracyNormalised: n ? correctNorm / n : NaN,
      counts: { correct, n, dropped: dropped + kept.length - n, method: 'loglik' }, samples,
    };
  }
  const stop = task.stop;
  const outs = generateBatch(params, cfg, kept.map((ex) => tok.encode(ex.prompt)), {
    maxNewTokens: task.maxNewTokens, eosId: tok.eosId, batchSize, ...(stop ? { stop: (ids: number[]) => stop(tok.decode(ids)) } : {}),
  });
  outs.forEach((out, i) => {
    const text = tok.decode(out);
    const ok = task.check(text, kept[i]);
    if (ok) correct++;
    if (samples.length < 5) samples.push({ id: kept[i].id, generated: text, correct: ok });
  });
  return { accuracy: kept.length ? correct / kept.length : NaN, counts: { correct, n: kept.length, dropped, method: 'generate' }, samples };
}

/** SFT loss on the task's test split (the first `max` examples that fit; all when max is absent). */
export function testLoss(params: Params, cfg: ModelConfig, task: SftTask, tok: Tokenizer, batchSize: number, max?: number): { sft: number; examples: number } {
  const { encoded } = encodeFitting(task.test, tok, cfg.contextLength);
  const use = encoded.slice(0, max ?? encoded.length);
  const batches: Batch[] = [];
  for (let i = 0; i < use.length; i += batchSize) batches.push(sftBatch(use.slice(i, i + batchSize)));
  return { sft: evaluate(params, cfg, batches), examples: use.length };
}

export async function* sft(config: SftConfig, opts: SftOptions): AsyncGenerator<StepLog, SftResult> {
  const cfg = opts.model;
  // Examples that do not fit the context are left out (the data build already drops them for the preset's context).
  const train = sftTrainSubset(encodeFitting(opts.task.train, opts.tokenizer, cfg.contextLength).encoded, config.maxExamples, config.seed);
  if (train.length === 0) throw new Error(`sft: task ${config.task} has no training examples that fit the context of ${cfg.contextLength}`);
  // A WebGPU device binds each tensor whole, up to a limit: evaluations run in batches of at most `evalRows`
  // rows of the context (losses are token-weighted means, so the grouping does not change them), and a training
  // batch too big for the device is computed in pieces (batchPieces: the same token-weighted loss).
  const evalRows = rowsThatFit(cfg, config.batchSize, cfg.contextLength, config.name);
  const decodeRows = rowsThatFit(cfg, DECODE_BATCH, cfg.contextLength, config.name);
  const valBatches: Batch[] = [];
  const val = encodeFitting(opts.task.val.slice(0, config.valExamples ?? opts.task.val.length), opts.tokenizer, cfg.contextLength).encoded;
  for (let i = 0; i < val.length; i += evalRows) valBatches.push(sftBatch(val.slice(i, i + evalRows)));
  const generalBatches = valWindows(opts.generalVal, cfg.contextLength, config.evalTokens, evalRows);
  const total = config.epochs * sftStepsPerEpoch(train.length, config.batchSize);
  const stop = Math.min(opts.stopAtStep ?? total, total);

  const params = paramsFromArrays(cfg, opts.start.params);
  const optimizer = new AdamW(params, config.optim);
  try {
    let step = 0;
    if (opts.resume) {
      if (opts.start.adam) optimizer.load(opts.start.adam);
      step = opts.start.step;
    }
    let t0 = Date.now();
    // Padded tokens processed so far (SFT batches vary in length, so this travels in the checkpoint).
    let tokens = opts.resume ? Number(opts.start.extra?.tokens ?? 0) : 0;
    while (step < stop) {
      const lr = lrAt(step, total, config.optim);
      const examples = sftStepExamples(train.length, config.batchSize, config.seed, step).map((i) => train[i]);
      const longest = Math.max(...examples.map((e) => e.ids.length - 1));
      const batch = sftBatch(examples, replayWanted() ? replayPaddedLength(longest, cfg.contextLength) : 0);
      const micros = batchPieces(batch, rowsThatFit(cfg, batch.B, batch.T, config.name));
      const { loss, ...scaled } = await readStepStats(optimizerStep(params, cfg, optimizer, lr, config.optim.gradClip, () => micros, micros.length), 'SFT', step + 1);
      step += 1;
      tokens += batch.B * longest; // the batch's own padding, not the replay's: the same count either way
      const log: StepLog = {
        step, tokens, lr, trainLoss: loss, ...scaled,
        tokensPerSec: (batch.B * longest) / Math.max(1e-3, (Date.now() - t0) / 1000),
      };
      // Also after the first step, so a val-loss curve starts where fine-tuning starts.
      if (step % config.evalEvery === 0 || step === total || step === 1) {
        log.val = { sft: evaluate(params, cfg, valBatches), general: evaluate(params, cfg, generalBatches) };
      }
      // The log goes out (and into metrics.jsonl) before the checkpoint: a checkpoint never runs ahead of the
      // metrics, so a run killed in between resumes from the previous checkpoint and redoes these steps.
      yield log;
      if (opts.checkpointAt?.(step)) {
        opts.onCheckpoint?.({ step, params: paramsToArrays(params), adam: optimizer.state(), sampler: { seed: config.seed, step }, extra: { tokens } });
      }
      await yieldToEventLoop();
      t0 = Date.now();
    }
    if (step < total) return { accuracy: NaN, counts: { correct: 0, n: 0, dropped: 0, method: 'generate' }, samples: [] };
    return {
      ...taskAccuracy(params, cfg, opts.task, opts.tokenizer, config.accuracyExamples, decodeRows),
      test: testLoss(params, cfg, opts.task, opts.tokenizer, evalRows, config.testExamples),
    };
  } finally {
    optimizer.dispose();
    disposeParams(params);
  }
}

/** Total optimizer steps of an SFT config on a task (epochs × ceil(examples / batch)). */
export function sftTotalSteps(config: SftConfig, task: SftTask, tok: Tokenizer, contextLength: number): number {
  const fit = encodeFitting(task.train, tok, contextLength).encoded.length;
  const n = Math.min(fit, config.maxExamples ?? fit);
  return config.epochs * sftStepsPerEpoch(n, config.batchSize);
}
