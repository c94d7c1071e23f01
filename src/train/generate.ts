// Greedy decoding with a KV cache: the prompt is run once (prefill), then each new token costs one
// single-position forward over the cached keys/values, so generation is linear in its length.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../runs/types';
import { forward, type LayerCache, type Params } from '../model/gpt';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Stop after emitting this token (not included in the output). */
  eosId?: number;
}

function disposeCache(cache?: LayerCache[]): void {
  for (const c of cache ?? []) {
    c.k.dispose();
    c.v.dispose();
  }
}

/** Greedy continuation of `prompt` (token ids). The prompt is cut from the left to leave room in the context. */
export function generate(params: Params, cfg: ModelConfig, prompt: ArrayLike<number>, opts: GenerateOptions): number[] {
  const room = Math.max(1, cfg.contextLength - opts.maxNewTokens);
  let ids = Array.from(prompt).slice(-room);
  if (ids.length === 0) throw new Error('generate: empty prompt');
  const out: number[] = [];
  let cache: LayerCache[] | undefined;
  try {
    while (out.length < opts.maxNewTokens && (cache?.[0]?.k.shape[2] ?? 0) + ids.length <= cfg.contextLength) {
      const step = tf.tidy(() => {
        const r = forward(params, cfg, tf.tensor2d(ids, [1, ids.length], 'int32'), { cache });
        const last = tf.slice(r.logits, [ids.length - 1, 0], [1, cfg.vocabSize]);
        // tidy keeps every tensor in the returned object: the next token and the grown cache.
        return { next: tf.argMax(last, -1), cache: r.cache } as unknown as tf.TensorContainer;
      }) as unknown as { next: tf.Tensor; cache: LayerCache[] };
      const next = step.next.dataSync()[0];
      step.next.dispose();
      disposeCache(cache);
      cache = step.cache;
      if (opts.eosId !== undefined && next === opts.eosId) break;
      out.push(next);
      ids = [next];
    }
  } finally {
    disposeCache(cache);
  }
  return out;
}
