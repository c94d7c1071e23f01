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
import { generate } from './generate';
import { optimizerStep, readStepStats, yieldToEventLoop, type TrainHooks } from './pretrain';
import type { Checkpoint } from './checkpoint';

/** One tokenised example: ids = prompt + response + eos; `promptLen` ids are masked out of the loss. */
export interface EncodedExample {
  ids: number[];
  promptLen: number;
}

/** Tokenise, keeping the response whole when the pair is longer than the context (the prompt is cut from the left). */
export function encodeExample(ex: SftExample, tok: Tokenizer, contextLength: number): EncodedExample {
  let prompt = tok.encode(ex.prompt);
  let response = [...tok.encode(ex.response), tok.eosId];
  const max = contextLength + 1;
  if (response.length >= max) response = response.slice(0, max - 1);
  if (prompt.length + response.length > max) prompt = prompt.slice(prompt.length + response.length - max);
  if (prompt.length === 0) prompt = [tok.eosId];
  return { ids: [...prompt, ...response], promptLen: prompt.length };
}

/** Pad a list of examples into a batch; weights are 1 exactly on targets that are response tokens. */
export function sftBatch(examples: EncodedExample[]): Batch {
  const T = Math.max(...examples.map((e) => e.ids.length - 1));
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
  accuracy: number;
  /** The first few generations, for eyeballing in a notebook. */
  samples: { id: string; generated: string; correct: boolean }[];
}

/** Accuracy of greedy decoding on the first n test examples, through the task's checker. */
export function taskAccuracy(params: Params, cfg: ModelConfig, task: SftTask, tok: Tokenizer, n: number): SftResult {
  const examples = task.test.slice(0, n);
  let correct = 0;
  const samples: SftResult['samples'] = [];
  for (const ex of examples) {
    const out = generate(params, cfg, tok.encode(ex.prompt), { maxNewTokens: task.maxNewTokens, eosId: tok.eosId });
    const text = tok.decode(out);
    const ok = task.check(text, ex);
    if (ok) correct++;
    if (samples.length < 5) samples.push({ id: ex.id, generated: text, correct: ok });
  }
  return { accuracy: examples.length ? correct / examples.length : NaN, samples };
}

export async function* sft(config: SftConfig, opts: SftOptions): AsyncGenerator<StepLog, SftResult> {
  const cfg = opts.model;
  const train = opts.task.train.slice(0, config.maxExamples ?? opts.task.train.length).map((e) => encodeExample(e, opts.tokenizer, cfg.contextLength));
  if (train.length === 0) throw new Error(`sft: task ${config.task} has no training examples`);
  const valBatches: Batch[] = [];
  const val = opts.task.val.slice(0, config.valExamples ?? opts.task.val.length).map((e) => encodeExample(e, opts.tokenizer, cfg.contextLength));
  for (let i = 0; i < val.length; i += config.batchSize) valBatches.push(sftBatch(val.slice(i, i + config.batchSize)));
  const generalBatches = valWindows(opts.generalVal, cfg.contextLength, config.evalTokens, config.batchSize);
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
      const batch = sftBatch(sftStepExamples(train.length, config.batchSize, config.seed, step).map((i) => train[i]));
      const { loss, gradNorm } = await readStepStats(optimizerStep(params, cfg, optimizer, lr, config.optim.gradClip, () => [batch], 1), 'SFT', step + 1);
      step += 1;
      tokens += batch.B * batch.T;
      const log: StepLog = {
        step, tokens, lr, trainLoss: loss, gradNorm,
        tokensPerSec: (batch.B * batch.T) / Math.max(1e-3, (Date.now() - t0) / 1000),
      };
      if (step % config.evalEvery === 0 || step === total) {
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
    if (step < total) return { accuracy: NaN, samples: [] };
    return taskAccuracy(params, cfg, opts.task, opts.tokenizer, config.accuracyExamples);
  } finally {
    optimizer.dispose();
    disposeParams(params);
  }
}

/** Total optimizer steps of an SFT config on a task (epochs × ceil(examples / batch)). */
export function sftTotalSteps(config: SftConfig, task: SftTask): number {
  const n = Math.min(task.train.length, config.maxExamples ?? task.train.length);
  return config.epochs * sftStepsPerEpoch(n, config.batchSize);
}
