// A GPT-NeoX / Pythia language model in tfjs, readable top to bottom (in the spirit of nanoGPT's model.py).
// References: EleutherAI gpt-neox (rotary, parallel residual), HF transformers GPTNeoXModel, nanoGPT.
//   x = x + attn(ln1(x)) + mlp(ln2(x))      (parallel attention + MLP, use_parallel_residual=True)
//   rotary embeddings on the first rotaryPct of each head's dims (rotate-half form), no position table
//   untied input/output embeddings, exact GELU, no dropout (Pythia trains without it).
// One forward serves training, evaluation and generation (an optional KV cache makes decoding linear).
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../runs/types';
import { paramShapes, headDims } from './presets';
import { matmul, linear, layerNorm, gelu, embedding, crossEntropy, causalAttention, rotary } from './ops';
import { Rng } from '../rng';

/** All weights by name (names and order from paramShapes: the checkpoint and PyTorch-reference layout). */
export type Params = Record<string, tf.Variable>;

/** Keys and values of past positions for one layer, after rotary: [B, H, Tpast, headSize]. */
export interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

// ---------------------------------------------------------------------------------------------------------
// Parameters

/**
 * Fresh weights from a seed: N(0, 0.02) for embeddings and matrices, with residual-output projections
 * scaled by 1/√(2·nLayers) (GPT-2/NeoX "wang" style: keeps the residual stream's variance flat with depth),
 * LayerNorm gains 1, biases 0.
 */
export function initParams(cfg: ModelConfig, seed: number): Params {
  const rng = new Rng(seed);
  const arrays: Record<string, Float32Array> = {};
  for (const [name, shape] of paramShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (name.endsWith('.b')) {
      // biases and LN shifts stay zero
    } else if (name.startsWith('ln') || name.includes('.ln')) {
      a.fill(1);
    } else {
      const std = name.endsWith('proj.w') ? 0.02 / Math.sqrt(2 * cfg.nLayers) : 0.02;
      for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    }
    arrays[name] = a;
  }
  return paramsFromArrays(cfg, arrays);
}

/** Variables from flat arrays (a checkpoint, or the PyTorch reference's weights); checks every shape. */
export function paramsFromArrays(cfg: ModelConfig, arrays: Record<string, Float32Array>): Params {
  const params: Params = {};
  for (const [name, shape] of paramShapes(cfg)) {
    const a = arrays[name];
    const n = shape.reduce((x, y) => x * y, 1);
    if (!a) throw new Error(`weights: missing tensor ${name}`);
    if (a.length !== n) throw new Error(`weights: ${name} has ${a.length} values, expected ${n} for shape [${shape}]`);
    // tidy: tf.variable shares the initial tensor's data but the tensor itself would stay registered.
    params[name] = tf.tidy(() => tf.variable(tf.tensor(a, shape, 'float32'), true, `${name}_${nextVarId++}`));
  }
  return params;
}
let nextVarId = 0;

/** Copy every weight out as a Float32Array (for checkpoints and the reference). */
export function paramsToArrays(params: Params): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(params)) out[name] = v.dataSync() as Float32Array;
  return out;
}

export function disposeParams(params: Params): void {
  for (const v of Object.values(params)) v.dispose();
}

/** Weight decay applies to matrices and embeddings only, never to norms and biases (paper, Pythia). */
export function decays(name: string): boolean {
  return name === 'wte' || (name.endsWith('.w') && !name.includes('ln'));
}

// ---------------------------------------------------------------------------------------------------------
// Rotary position embeddings (GPT-NeoX rotate-half form)

/** cos/sin tables [T, rotaryDims] for absolute positions pos0 … pos0+T−1 (computed in float64, stored float32). */
function rotaryTables(cfg: ModelConfig, pos0: number, T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const { rotaryDims: r } = headDims(cfg);
  const cos = new Float32Array(T * r);
  const sin = new Float32Array(T * r);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < r / 2; i++) {
      const angle = (pos0 + t) / Math.pow(cfg.rotaryBase, (2 * i) / r);
      // emb = cat(freqs, freqs): the same angle for dim i and i + r/2
      cos[t * r + i] = cos[t * r + i + r / 2] = Math.cos(angle);
      sin[t * r + i] = sin[t * r + i + r / 2] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [T, r]), sin: tf.tensor2d(sin, [T, r]) };
}

// ---------------------------------------------------------------------------------------------------------
// Blocks

/**
 * Causal self-attention on x [B·T, d]. The fused QKV projection is laid out per head as [q | k | v]
 * (GPT-NeoX's query_key_value), so real Pythia weights map onto it without reshuffling.
 */
function attention(
  p: Params, i: number, cfg: ModelConfig, x: tf.Tensor2D, B: number, T: number,
  rope: { cos: tf.Tensor2D; sin: tf.Tensor2D }, past?: LayerCache, keyBias?: tf.Tensor,
): { y: tf.Tensor2D; cache: LayerCache } {
  const H = cfg.nHeads;
  const { headSize: hs } = headDims(cfg);
  const qkv = tf.reshape(linear(x, p[`h${i}.attn.qkv.w`], p[`h${i}.attn.qkv.b`]), [B, T, H, 3 * hs]);
  // One split (its gradient is one concat) instead of three slices (whose gradients are three zero-padded
  // full-size tensors summed together).
  const [qh, kh, vh] = tf.split(qkv, 3, 3).map((t) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D);
  const q = rotary(qh, rope.cos, rope.sin);
  let k = rotary(kh, rope.cos, rope.sin);
  let v = vh;
  if (past) {
    k = tf.concat([past.k, k], 2);
    v = tf.concat([past.v, v], 2);
  }
  const out = tf.reshape(tf.transpose(causalAttention(q, k, v, keyBias), [0, 2, 1, 3]), [B * T, cfg.dModel]);
  return { y: linear(out, p[`h${i}.attn.proj.w`], p[`h${i}.attn.proj.b`]) as tf.Tensor2D, cache: { k, v } };
}

/** Position-wise MLP: d → mlpRatio·d → d with exact GELU. */
function mlp(p: Params, i: number, x: tf.Tensor2D): tf.Tensor2D {
  const h = gelu(linear(x, p[`h${i}.mlp.fc.w`], p[`h${i}.mlp.fc.b`]));
  return linear(h, p[`h${i}.mlp.proj.w`], p[`h${i}.mlp.proj.b`]) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------------------
// The model

export interface ForwardOptions {
  /** Per-layer keys/values of earlier positions (generation); the new tokens start at their length. */
  cache?: LayerCache[];
  /**
   * [B, Tk] with 1 for real tokens and 0 for padding, over cached and new positions (batched decoding of
   * left-padded prompts): padded keys get no attention. Rotary scores depend only on the distance between
   * positions, so a prompt shifted right by its padding attends exactly as it would alone.
   */
  keyMask?: tf.Tensor2D;
}

/**
 * Logits [B·T, V] for int32 ids [B, T]. With a cache, ids are the next tokens after the cached positions;
 * the returned cache covers all positions so far (caller disposes the old one).
 */
export function forward(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): { logits: tf.Tensor2D; cache: LayerCache[] } {
  const [B, T] = ids.shape;
  const pos0 = opts.cache?.[0]?.k.shape[2] ?? 0;
  if (pos0 + T > cfg.contextLength) throw new Error(`forward: ${pos0 + T} positions exceed contextLength ${cfg.contextLength}`);
  const rope = rotaryTables(cfg, pos0, T);
  const keyBias = opts.keyMask ? tf.reshape(tf.mul(tf.sub(1, opts.keyMask), -1e9), [B, 1, 1, -1]) : undefined;
  let x = embedding(params.wte, tf.reshape(ids, [-1])) as tf.Tensor2D;
  const cache: LayerCache[] = [];
  for (let i = 0; i < cfg.nLayers; i++) {
    const a = attention(params, i, cfg, layerNorm(x, params[`h${i}.ln1.w`], params[`h${i}.ln1.b`], cfg.layerNormEps) as tf.Tensor2D, B, T, rope, opts.cache?.[i], keyBias);
    const m = mlp(params, i, layerNorm(x, params[`h${i}.ln2.w`], params[`h${i}.ln2.b`], cfg.layerNormEps) as tf.Tensor2D);
    x = tf.addN([x, a.y, m]) as tf.Tensor2D;  // one kernel, same sum order as (x + a.y) + m
    cache.push(a.cache);
  }
  const h = layerNorm(x, params['lnf.w'], params['lnf.b'], cfg.layerNormEps);
  return { logits: matmul(h, params['head.w']) as tf.Tensor2D, cache };
}

/** A batch of next-token examples: inputs and targets [B, T] (int32), optional per-target loss weights. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 where the target counts (SFT: response tokens), 0 elsewhere; absent = every token counts. */
  weights?: Float32Array;
  /**
   * What this micro-batch's mean loss counts for in its step, relative to an equal share (absent: 1). A batch
   * split into pieces whose counted tokens differ gives each piece n_piece · pieces / n_batch, so that the
   * step's mean over pieces is the whole batch's token-weighted mean.
   */
  share?: number;
  B: number;
  T: number;
}

/** Mean (weighted) next-token cross-entropy of a batch: the training objective. */
export function batchLoss(params: Params, cfg: ModelConfig, batch: Batch): tf.Scalar {
  const ids = tf.tensor2d(batch.inputs, [batch.B, batch.T], 'int32');
  const { logits } = forward(params, cfg, ids);
  const targets = tf.tensor1d(batch.targets, 'int32');
  const weights = batch.weights ? tf.tensor1d(batch.weights, 'float32') : undefined;
  return crossEntropy(logits, targets, weights);
}
