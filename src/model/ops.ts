// Custom differentiable ops for the GPT, each a tf.customGrad with its analytic gradient.
// Why custom: on the wasm backend tfjs's own gradients are slow or missing — matmul's gradient uses
// transposed-operand matmuls (10–20× slower there), any differentiated mean/sum builds a full-size `ones`
// on the CPU each step (LayerNorm via tf.moments, the loss reduction), and gather's gradient needs
// UnsortedSegmentSum, which wasm lacks. Every op here has a finite-difference test (test/engine/ops.test.ts).
// Where the active backend has a fused kernel for an op (the native backend), the op uses it; the
// same tests run against it with MIDTRAIN_BACKEND=native.
import * as tf from '@tensorflow/tfjs';
import { fastTransposedMatmul, hasFusedAttention, hasFusedBiasMatmul, hasFusedCrossEntropy, hasFusedGelu, hasFusedLayerNorm, hasFusedRotary } from '../backend/caps';
import { fusedCausalAttention, fusedCrossEntropy, fusedGelu, fusedLayerNorm, fusedRotary } from '../backend/native-fused';

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
type CustomBody = (...args: any[]) => { value: tf.Tensor; gradFunc: GradFunc };
/** tf.customGrad, typed for our call sites (its own typing lists the save function among the tensor inputs). */
function customGrad(body: CustomBody): (...xs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as (...xs: tf.Tensor[]) => tf.Tensor;
}

/** Swap the last two axes (explicit transpose, so the following matmul is a plain one). */
function transposeLast2(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm);
}

/** C = A·B whose gradient uses only plain matmuls: dA = dC·Bᵀ, dB = Aᵀ·dC with explicit transposes. */
const plainMatmul = customGrad((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, transposeLast2(sb)), tf.matMul(transposeLast2(sa), dy)];
    },
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * op(A)·op(B) for rank-2 or batched (rank ≥ 3) operands. The one place that decides how transposes run:
 * backends with fast transposed kernels (native, tensorflow, webgpu) get the flags and tfjs's own gradient;
 * the others get explicit transposes and the plain-matmul gradient above.
 */
export function matmul(a: tf.Tensor, b: tf.Tensor, transA = false, transB = false): tf.Tensor {
  if (fastTransposedMatmul()) return tf.matMul(a, b, transA, transB);
  return plainMatmul(transA ? transposeLast2(a) : a, transB ? transposeLast2(b) : b);
}

/**
 * y = x·W + b for x [N, in], W [in, out], b [out], as one op (dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ dy) so the
 * product before the bias is not another [N, out] tensor alive until the backward pass.
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  if (!b) return matmul(x, w);
  const f = customGrad((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xi, wi]);
    return {
      // the bias add inside the GEMM's kernel where the backend fuses it (native: in place, no extra tensor)
      value: hasFusedBiasMatmul() ? tf.fused.matMul({ a: xi, b: wi, bias: bi }) : tf.add(matmul(xi, wi), bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved;
        return [matmul(dy, sw, false, true), matmul(sx, dy, true, false), tf.sum(dy, 0)];
      },
    };
  });
  return f(x, w, b);
}

/**
 * LayerNorm over the last axis of x [N, d] with gain g and bias b [d].
 * Backward: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·dy; dg = Σ dy·x̂; db = Σ dy.
 */
export function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  if (hasFusedLayerNorm()) return fusedLayerNorm(x, g, b, eps);
  const f = customGrad((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor, save: tf.GradSaveFunc) => {
    const mean = tf.mean(xi, -1, true);
    const xc = tf.sub(xi, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, gi]);
    return {
      value: tf.add(tf.mul(xhat, gi), bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sg] = saved;
        const ghat = tf.mul(dy, sg);
        const dx = tf.mul(srstd, tf.sub(tf.sub(ghat, tf.mean(ghat, -1, true)), tf.mul(sxhat, tf.mean(tf.mul(ghat, sxhat), -1, true))));
        const lead = dy.shape.slice(0, -1).map((_, i) => i);
        return [dx, tf.sum(tf.mul(dy, sxhat), lead), tf.sum(dy, lead)];
      },
    };
  });
  return f(x, g, b);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Exact (erf) GELU, as GPT-NeoX uses: y = x·Φ(x); dy/dx = Φ(x) + x·φ(x). Fused where the backend has it. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return hasFusedGelu() ? fusedGelu(x) : geluOps(x);
}

const geluOps: (x: tf.Tensor) => tf.Tensor = customGrad((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx] = saved;
      const phi = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(sx))));
      const cdf2 = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(sx, SQRT1_2))));
      return [tf.mul(dy, tf.add(cdf2, tf.mul(sx, phi)))];
    },
  };
});

/**
 * Rows of the embedding table W [V, d] for int32 ids [N] → [N, d]. Backward scatters dy into a [V, d]
 * gradient; tf.scatterND sums rows of repeated ids (checked on wasm in ops.test.ts).
 */
export function embedding(w: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  // Tensors a gradient needs must go through save(): tfjs disposes everything else the forward touched.
  const f = customGrad((wi: tf.Tensor, save: tf.GradSaveFunc) => {
    save([tf.reshape(ids, [-1, 1])]);
    return {
      value: tf.gather(wi, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.scatterND(saved[0], dy, wi.shape)],
    };
  });
  return f(w);
}

/** (row, target) index pairs [N, 2] (int32): where each row's target logit sits in z [N, V]. */
function targetIndex(targets: tf.Tensor, n: number): tf.Tensor2D {
  return tf.stack([tf.range(0, n, 1, 'int32'), targets], 1) as tf.Tensor2D;
}

/**
 * Token cross-entropy of logits z [N, V] against int32 targets [N], averaged over the tokens whose weight
 * is 1 (weights [N], a 0/1 mask such as SFT's response mask; default all ones):
 *   loss = Σ wᵢ (logsumexp(zᵢ) − zᵢ[tᵢ]) / Σ wᵢ,   ∂loss/∂zᵢ = wᵢ (softmax(zᵢ) − onehot(tᵢ)) / Σ w.
 * zᵢ[tᵢ] is a gather and the one-hot a scatter of N values: no [N, V] one-hot is built or kept (at V 8192
 * and 4k tokens that would be two more 134 MB tensors, one of them alive until the backward pass).
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  if (hasFusedCrossEntropy()) {
    // The fused kernel leaves labels < 0 out of the mean: masked tokens become -1.
    const labels = weights ? tf.where(tf.greater(weights, 0), targets, tf.fill(targets.shape, -1, 'int32')) : targets;
    return fusedCrossEntropy(logits, labels);
  }
  const [n, v] = logits.shape as [number, number];
  const w = weights ?? tf.ones([n]);
  const f = customGrad((z: tf.Tensor, save: tf.GradSaveFunc) => {
    const idx = targetIndex(targets, n);
    const zt = tf.gatherND(z, idx);
    const total = tf.maximum(tf.sum(w), 1e-12);
    save([z, idx, total, w]);
    return {
      value: tf.div(tf.sum(tf.mul(w, tf.sub(tf.logSumExp(z, -1), zt))), total),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sz, sidx, stotal, sw] = saved;
        const scale = tf.div(tf.mul(sw, dy), stotal);
        const probs = tf.mul(tf.softmax(sz), tf.reshape(scale, [n, 1]));
        return [tf.sub(probs, tf.scatterND(sidx, scale, [n, v]))];
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** Per-token cross-entropy [N] (no gradient), for evaluation and per-example losses. */
export function tokenLosses(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.logSumExp(logits, -1), tf.gatherND(logits, targetIndex(targets, logits.shape[0]))));
}

/** Additive causal mask [T, Tk]: query i (absolute position pos0+i) sees keys 0 … pos0+i. */
export function causalMask(pos0: number, T: number, Tk: number): tf.Tensor2D {
  const m = new Float32Array(T * Tk);
  for (let i = 0; i < T; i++) for (let j = pos0 + i + 1; j < Tk; j++) m[i * Tk + j] = -1e9;
  return tf.tensor2d(m, [T, Tk]);
}

/**
 * softmax(q·kᵀ/√d + causal mask)·v for q [B, H, T, d] and k, v [B, H, Tk, d] (Tk ≥ T: the last T keys are
 * the queries' own positions, earlier ones come from a KV cache). Fused on backends that have it (no cache).
 * Otherwise one custom-gradient op that keeps only the probabilities P for the backward pass:
 *   dv = Pᵀ·dy,  dP = dy·vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dq = dS·k/√d,  dk = dSᵀ·q/√d.
 * Left to autodiff, the scores, scaled scores, masked scores and P ([B, H, T, Tk] each) would all stay
 * alive until the backward pass — 4× the memory, which is what overflows wasm's heap at the small preset.
 * `keyBias` (broadcast to [B, H, T, Tk], e.g. −1e9 on padded keys) is added to the scores; it has no gradient.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyBias?: tf.Tensor): tf.Tensor4D {
  const [, , T, d] = q.shape;
  const Tk = k.shape[2];
  const scale = 1 / Math.sqrt(d);
  if (Tk === T && !keyBias && hasFusedAttention()) return fusedCausalAttention(q, k, v, scale) as tf.Tensor4D;
  const f = customGrad((qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor, save: tf.GradSaveFunc) => {
    const causal = tf.add(matmul(tf.mul(qi, scale), ki, false, true), causalMask(Tk - T, T, Tk));
    const scores = keyBias ? tf.add(causal, keyBias) : causal;
    const p = tf.softmax(scores, -1);
    save([qi, ki, vi, p]);
    return {
      value: matmul(p, vi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved;
        const dp = matmul(dy, sv, false, true);
        const ds = tf.mul(sp, tf.sub(dp, tf.sum(tf.mul(dp, sp), -1, true)));
        return [tf.mul(matmul(ds, sk), scale), tf.mul(matmul(ds, sq, true, false), scale), matmul(sp, dy, true, false)];
      },
    };
  });
  return f(q, k, v) as tf.Tensor4D;
}

/**
 * Rotary position embedding (GPT-NeoX rotate-half form) on the first r = cos.shape[1] dims of each head of
 * x [B, H, T, hs]: x·cos + rotate_half(x)·sin with cos/sin [T, r]; dims r… pass through. Fused where the
 * backend has it.
 */
export function rotary(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const r = cos.shape[1];
  if (r === 0) return x;
  if (hasFusedRotary()) return fusedRotary(x, cos, sin) as tf.Tensor4D;
  const [B, H, T, hs] = x.shape;
  const xr = tf.slice(x, [0, 0, 0, 0], [B, H, T, r]);
  const x1 = tf.slice(xr, [0, 0, 0, 0], [B, H, T, r / 2]);
  const x2 = tf.slice(xr, [0, 0, 0, r / 2], [B, H, T, r / 2]);
  const rotated = tf.add(tf.mul(xr, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
  if (r === hs) return rotated as tf.Tensor4D;
  return tf.concat([rotated, tf.slice(x, [0, 0, 0, r], [B, H, T, hs - r])], -1) as tf.Tensor4D;
}
