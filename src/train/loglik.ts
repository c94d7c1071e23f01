// Multiple-choice scoring by log-likelihood, as lm-evaluation-harness does it: each option's response is
// appended to the prompt and the log-probabilities of its tokens are summed; the highest sum wins ("acc").
// Dividing each sum by the option's length in bytes gives the harness's "acc_norm".
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../runs/types';
import type { SftExample, Tokenizer } from '../data/types';
import { forward, type Params } from '../model/gpt';
import { tokenLosses } from '../model/ops';
import { choiceResponse } from '../data/sft/checkers';

export interface ChoiceScore {
  /** Summed log-likelihood of each option's response tokens. */
  logLik: number[];
  /** Index of the best option by summed and by byte-length-normalised log-likelihood. */
  best: number;
  bestNormalised: number;
}

/**
 * Summed log-likelihood of `continuation` after `prompt` for each row, with rows right-padded into batches
 * of `batchSize` (causal attention never looks right, so padding after a row changes nothing). Every row
 * must fit: prompt + continuation ≤ contextLength + 1.
 */
export function continuationLogLik(params: Params, cfg: ModelConfig, rows: { prompt: number[]; continuation: number[] }[], batchSize: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    const group = rows.slice(i, i + batchSize);
    const T = Math.max(...group.map((r) => r.prompt.length + r.continuation.length - 1));
    if (T > cfg.contextLength) throw new Error(`continuationLogLik: a row of ${T + 1} tokens exceeds the context of ${cfg.contextLength} + 1`);
    const B = group.length;
    const inputs = new Int32Array(B * T);
    // Only the continuation's positions are scored: gathering them before the log-softmax keeps it to a few
    // rows per option instead of the whole padded batch.
    const at: number[] = [], targets: number[] = [], rowOf: number[] = [];
    group.forEach((r, b) => {
      const ids = [...r.prompt, ...r.continuation];
      for (let t = 0; t < ids.length - 1; t++) {
        inputs[b * T + t] = ids[t];
        if (t + 1 >= r.prompt.length) {
          at.push(b * T + t);
          targets.push(ids[t + 1]);
          rowOf.push(b);
        }
      }
    });
    const nll = tf.tidy(() => {
      const { logits } = forward(params, cfg, tf.tensor2d(inputs, [B, T], 'int32'));
      return tokenLosses(tf.gather(logits, at), tf.tensor1d(targets, 'int32'));
    });
    const perToken = nll.dataSync();
    nll.dispose();
    const sums = new Array<number>(B).fill(0);
    rowOf.forEach((b, k) => (sums[b] -= perToken[k]));
    out.push(...sums);
  }
  return out;
}

/** Scores every option of each multiple-choice example; null for an example whose longest option does not fit. */
export function scoreChoices(params: Params, cfg: ModelConfig, tok: Tokenizer, examples: SftExample[], batchSize: number): (ChoiceScore | null)[] {
  const rows: { prompt: number[]; continuation: number[]; example: number; bytes: number }[] = [];
  const fits = examples.map((ex, e) => {
    const prompt = tok.encode(ex.prompt);
    const options = (ex.choices ?? []).map((c, i) => {
      const text = choiceResponse(i, c);
      return { prompt, continuation: tok.encode(text), example: e, bytes: Buffer.byteLength(text) };
    });
    const ok = options.length > 0 && options.every((o) => o.prompt.length + o.continuation.length <= cfg.contextLength + 1 && o.continuation.length > 0);
    if (ok) rows.push(...options);
    return ok;
  });
  const ll = continuationLogLik(params, cfg, rows, batchSize);
  const byExample = new Map<number, { ll: number; bytes: number }[]>();
  rows.forEach((r, i) => {
    if (!byExample.has(r.example)) byExample.set(r.example, []);
    byExample.get(r.example)!.push({ ll: ll[i], bytes: r.bytes });
  });
  const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);
  return examples.map((_, e) => {
    if (!fits[e]) return null;
    const opts = byExample.get(e)!;
    const logLik = opts.map((o) => o.ll);
    return { logLik, best: argmax(logLik), bestNormalised: argmax(opts.map((o) => o.ll / o.bytes)) };
  });
}
