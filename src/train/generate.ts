// Greedy decoding with a KV cache: the prompt is run once (prefill), then each new token costs one
// single-position forward over the cached keys/values, so generation is linear in its length. Prompts are
// never cut: one that does not fit the context is an error (callers drop and count such examples), and the
// new tokens are capped at what the context leaves. Several prompts decode together, left-padded to a common
// length with the padding masked out of attention.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../runs/types';
import { forward, type LayerCache, type Params } from '../model/gpt';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Stop after emitting this token (not included in the output). */
  eosId?: number;
  /** Stop once the output so far is a complete answer (e.g. the line after "####" has ended); checked after every token. */
  stop?: (out: number[]) => boolean;
}

export interface GenerateBatchOptions extends GenerateOptions {
  /** Prompts decoded together (default 16); prompts are grouped by length so padding stays small. */
  batchSize?: number;
}

/** Most tokens a prompt of `promptLength` can be followed by: the last generated token is never fed back, so ctx − len + 1. */
export function newTokenRoom(cfg: ModelConfig, promptLength: number): number {
  return cfg.contextLength - promptLength + 1;
}

function disposeCache(cache?: LayerCache[]): void {
  for (const c of cache ?? []) {
    c.k.dispose();
    c.v.dispose();
  }
}

function checkPrompt(cfg: ModelConfig, prompt: ArrayLike<number>, i: number): void {
  if (prompt.length === 0) throw new Error(`generate: prompt ${i} is empty`);
  if (prompt.length > cfg.contextLength) throw new Error(`generate: prompt ${i} has ${prompt.length} tokens, more than the context of ${cfg.contextLength} (drop it; prompts are never cut)`);
}

/** Greedy continuation of `prompt` (token ids), at most min(maxNewTokens, context room) tokens. */
export function generate(params: Params, cfg: ModelConfig, prompt: ArrayLike<number>, opts: GenerateOptions): number[] {
  return generateBatch(params, cfg, [prompt], { ...opts, batchSize: 1 })[0];
}

/** Greedy continuations of several prompts; the same tokens as generating each alone (up to float rounding). */
export function generateBatch(params: Params, cfg: ModelConfig, prompts: ArrayLike<number>[], opts: GenerateBatchOptions): number[][] {
  prompts.forEach((p, i) => checkPrompt(cfg, p, i));
  const size = Math.max(1, opts.batchSize ?? 16);
  const order = [...prompts.keys()].sort((a, b) => prompts[a].length - prompts[b].length || a - b);
  const out: number[][] = prompts.map(() => []);
  for (let i = 0; i < order.length; i += size) {
    const rows = order.slice(i, i + size);
    const got = decodeGroup(params, cfg, rows.map((r) => Array.from(prompts[r])), opts);
    rows.forEach((r, j) => (out[r] = got[j]));
  }
  return out;
}

/** One left-padded group. Rows that the group's padding left short of their own room finish alone. */
function decodeGroup(params: Params, cfg: ModelConfig, prompts: number[][], opts: GenerateOptions): number[][] {
  const B = prompts.length;
  const P = Math.max(...prompts.map((p) => p.length));
  const limit = prompts.map((p) => Math.min(opts.maxNewTokens, newTokenRoom(cfg, p.length)));
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map((_, r) => limit[r] <= 0);
  // Real-token mask over every position so far ([B, positions]); grows by one column per step.
  const mask: number[][] = prompts.map((p) => [...Array(P - p.length).fill(0), ...Array(p.length).fill(1)]);
  let active = [...Array(B).keys()].filter((r) => !done[r]);
  let ids = active.map((r) => [...Array(P - prompts[r].length).fill(0), ...prompts[r]]);
  let cache: LayerCache[] | undefined;
  try {
    while (active.length > 0 && (cache?.[0]?.k.shape[2] ?? 0) + ids[0].length <= cfg.contextLength) {
      const T = ids[0].length;
      const rowsNow = active;
      const step = tf.tidy(() => {
        const keyMask = P === Math.min(...rowsNow.map((r) => prompts[r].length)) ? undefined : tf.tensor2d(rowsNow.map((r) => mask[r]), [rowsNow.length, mask[0].length], 'float32');
        const res = forward(params, cfg, tf.tensor2d(ids, [rowsNow.length, T], 'int32'), { cache, keyMask });
        const last = tf.gather(res.logits, rowsNow.map((_, j) => j * T + T - 1));
        // tidy keeps every tensor in the returned object: the next tokens and the grown cache.
        return { next: tf.argMax(last, -1), cache: res.cache } as unknown as tf.TensorContainer;
      }) as unknown as { next: tf.Tensor; cache: LayerCache[] };
      const next = Array.from(step.next.dataSync());
      step.next.dispose();
      disposeCache(cache);
      cache = step.cache;
      rowsNow.forEach((r, j) => {
        const t = next[j];
        if (opts.eosId !== undefined && t === opts.eosId) done[r] = true;
        else {
          out[r].push(t);
          if (out[r].length >= limit[r] || opts.stop?.(out[r])) done[r] = true;
        }
      });
      for (const m of mask) m.push(1);
      const keep = rowsNow.map((r, j) => (done[r] ? -1 : j)).filter((j) => j >= 0);
      if (keep.length < rowsNow.length && keep.length > 0) {
        // Finished rows leave the batch: their cached keys/values are dropped.
        const old = cache;
        cache = old.map((c) => tf.tidy(() => ({ k: tf.gather(c.k, keep), v: tf.gather(c.v, keep) })));
        disposeCache(old);
      }
      active = keep.map((j) => rowsNow[j]);
      ids = active.map((r) => [out[r][out[r].length - 1]]);
    }
  } finally {
    disposeCache(cache);
  }
  // The group ran out of positions before these rows used their own room (padding took it): go on alone.
  for (const r of active) {
    const more = decodeGroup(params, cfg, [[...prompts[r], ...out[r]]], { ...opts, maxNewTokens: limit[r] - out[r].length, stop: opts.stop && ((o) => opts.stop!([...out[r], ...o])) });
    out[r].push(...more[0]);
  }
  return out;
}
