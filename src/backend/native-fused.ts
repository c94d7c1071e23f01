// Fused training kernels of the 'native' backend: causal attention, layer norm, cross-entropy,
// each one tfjs kernel forward and one backward with its gradient registered, plus an in-place AdamW.
// The model asks caps.ts (hasFusedAttention() …) and calls these functions; on other backends it keeps its
// generic tf-op formulation. One fused kernel replaces ~10–20 tfjs ops and their intermediate tensors.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { NATIVE_FUSED_KERNELS } from './caps';
import { FUSED_GRAD_KERNELS, registerFusedGradients } from './fused-gradients';
import { UNARY_OPS, type NativeAddon } from './native-addon';
import { newF32, values } from './native-kernels';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const GRAD = FUSED_GRAD_KERNELS;

const UNARY_GELU = UNARY_OPS.Gelu;
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const f32 = (b: MathBackendCPU, t: TensorInfo) => values(b, t) as Float32Array;

function requireFloat(name: string, ts: Record<string, TensorInfo>): void {
  for (const [k, t] of Object.entries(ts)) {
    if (t.dtype !== 'float32') throw new Error(`${name}: input ${k} must be float32, got ${t.dtype}`);
  }
}

/** Registers the fused kernels (forward and backward) for `backendName` and their gradients (backend-agnostic). */
export function registerFusedKernels(addon: NativeAddon, backendName: string): void {
  const reg = (kernelName: string, kernelFunc: (a: KernelArgs) => TensorInfo | TensorInfo[]) =>
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });

  // ---- exact GELU: y = x·Φ(x); dx = dy·(Φ(x) + x·φ(x)) recomputed from x
  reg(NATIVE_FUSED_KERNELS.gelu, ({ inputs, backend }) => {
    const b = backend as MathBackendCPU;
    const { x } = inputs as { x: TensorInfo };
    requireFloat('fusedGelu', { x });
    const y = newF32(size(x.shape));
    addon.unary(UNARY_GELU, f32(b, x), y, 0);
    return b.makeTensorInfo(x.shape, 'float32', y);
  });
  reg(GRAD.gelu, ({ inputs, backend }) => {
    const b = backend as MathBackendCPU;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const dx = newF32(size(x.shape));
    addon.geluBwd(f32(b, x), f32(b, dy), dx);
    return b.makeTensorInfo(x.shape, 'float32', dx);
  });

  // ---- rotary embedding: x [..., T, hs], cos/sin [T, r] → y; the gradient is the adjoint rotation
  const rotaryKernel = (grad: boolean) => ({ inputs, backend }: KernelArgs) => {
    const b = backend as MathBackendCPU;
    const { x, cos, sin } = inputs as { x: TensorInfo; cos: TensorInfo; sin: TensorInfo };
    requireFloat('fusedRotary', { x, cos, sin });
    const rank = x.shape.length, T = x.shape[rank - 2], hs = x.shape[rank - 1];
    const r = cos.shape[cos.shape.length - 1];
    if (rank < 2 || cos.shape.length !== 2 || cos.shape[0] !== T || !tf.util.arraysEqual(cos.shape, sin.shape)) {
      throw new Error(`fusedRotary: x [${x.shape}] needs cos and sin of shape [${T}, r]; got [${cos.shape}] and [${sin.shape}]`);
    }
    const y = newF32(size(x.shape));
    addon.rotary(f32(b, x), f32(b, cos), f32(b, sin), y, T, hs, r, grad);
    return b.makeTensorInfo(x.shape, 'float32', y);
  };
  reg(NATIVE_FUSED_KERNELS.rotary, rotaryKernel(false));
  reg(GRAD.rotary, rotaryKernel(true));

  // ---- causal attention: q, k, v [..., T, D] → out [..., T, D], lse [..., T]
  reg(NATIVE_FUSED_KERNELS.attention, ({ inputs, backend, attrs }) => {
    const b = backend as MathBackendCPU;
    const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
    requireFloat('fusedCausalAttention', { q, k, v });
    if (!tf.util.arraysEqual(q.shape, k.shape) || !tf.util.arraysEqual(q.shape, v.shape) || q.shape.length < 2) {
      throw new Error(`fusedCausalAttention: q, k, v must share one shape [..., T, D]; got [${q.shape}], [${k.shape}], [${v.shape}]`);
    }
    const r = q.shape.length, T = q.shape[r - 2], D = q.shape[r - 1], BH = size(q.shape.slice(0, -2));
    const scale = Number((attrs as { scale: number }).scale);
    const out = newF32(BH * T * D), lse = newF32(BH * T);
    addon.attentionFwd(f32(b, q), f32(b, k), f32(b, v), out, lse, BH, T, D, scale);
    return [b.makeTensorInfo(q.shape, 'float32', out), b.makeTensorInfo(q.shape.slice(0, -1), 'float32', lse)];
  });
  reg(GRAD.attention, ({ inputs, backend, attrs }) => {
    const b = backend as MathBackendCPU;
    const { q, k, v, out, lse, dy } = inputs as Record<string, TensorInfo>;
    const r = q.shape.length, T = q.shape[r - 2], D = q.shape[r - 1], BH = size(q.shape.slice(0, -2));
    const n = BH * T * D;
    const dq = newF32(n), dk = newF32(n), dv = newF32(n);
    addon.attentionBwd(f32(b, q), f32(b, k), f32(b, v), f32(b, out), f32(b, lse), f32(b, dy), dq, dk, dv, BH, T, D,
      Number((attrs as { scale: number }).scale));
    return [dq, dk, dv].map((a) => b.makeTensorInfo(q.shape, 'float32', a));
  });

  // ---- layer norm over the last axis: x [..., C], gamma [C], beta [C] → y, mean [...], rstd [...]
  reg(NATIVE_FUSED_KERNELS.layerNorm, ({ inputs, backend, attrs }) => {
    const b = backend as MathBackendCPU;
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    requireFloat('fusedLayerNorm', { x, gamma, beta });
    const C = x.shape[x.shape.length - 1];
    if (size(gamma.shape) !== C || size(beta.shape) !== C) {
      throw new Error(`fusedLayerNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must have ${C} elements (last dim of x [${x.shape}])`);
    }
    const rows = size(x.shape) / C;
    const y = newF32(rows * C), mean = newF32(rows), rstd = newF32(rows);
    addon.layerNormFwd(f32(b, x), f32(b, gamma), f32(b, beta), y, mean, rstd, rows, C, Number((attrs as { eps: number }).eps));
    const rowShape = x.shape.slice(0, -1);
    return [b.makeTensorInfo(x.shape, 'float32', y), b.makeTensorInfo(rowShape, 'float32', mean),
      b.makeTensorInfo(rowShape, 'float32', rstd)];
  });
  reg(GRAD.layerNorm, ({ inputs, backend }) => {
    const b = backend as MathBackendCPU;
    const { x, gamma, mean, rstd, dy } = inputs as Record<string, TensorInfo>;
    const C = x.shape[x.shape.length - 1], rows = size(x.shape) / C;
    const dx = newF32(rows * C), dg = newF32(C), db = newF32(C);
    addon.layerNormBwd(f32(b, x), f32(b, gamma), f32(b, mean), f32(b, rstd), f32(b, dy), dx, dg, db, rows, C);
    return [b.makeTensorInfo(x.shape, 'float32', dx), b.makeTensorInfo(gamma.shape, 'float32', dg),
      b.makeTensorInfo(gamma.shape, 'float32', db)];
  });

  // ---- cross-entropy: logits [N, V], labels int32 [N] (label < 0 masked) → mean loss [], lse [N], weight []
  reg(NATIVE_FUSED_KERNELS.crossEntropy, ({ inputs, backend }) => {
    const b = backend as MathBackendCPU;
    const { logits, labels } = inputs as { logits: TensorInfo; labels: TensorInfo };
    requireFloat('fusedCrossEntropy', { logits });
    if (labels.dtype !== 'int32') throw new Error(`fusedCrossEntropy: labels must be int32, got ${labels.dtype}`);
    const V = logits.shape[logits.shape.length - 1], N = size(logits.shape) / V;
    if (size(labels.shape) !== N) throw new Error(`fusedCrossEntropy: labels [${labels.shape}] must have one entry per row of logits [${logits.shape}]`);
    const rowLoss = newF32(N), lse = newF32(N);
    const lab = values(b, labels) as Int32Array;
    addon.crossEntropyFwd(f32(b, logits), lab, rowLoss, lse, N, V);
    let count = 0, total = 0;
    for (let i = 0; i < N; i++) if (lab[i] >= 0) { count++; total += rowLoss[i]; }
    const inv = count > 0 ? 1 / count : 0;
    return [b.makeTensorInfo([], 'float32', Float32Array.of(total * inv)), b.makeTensorInfo([N], 'float32', lse),
      b.makeTensorInfo([], 'float32', Float32Array.of(inv))];
  });
  reg(GRAD.crossEntropy, ({ inputs, backend }) => {
    const b = backend as MathBackendCPU;
    const { logits, labels, lse, invCount, dy } = inputs as Record<string, TensorInfo>;
    const V = logits.shape[logits.shape.length - 1], N = size(logits.shape) / V;
    const lab = values(b, labels) as Int32Array;
    const s = f32(b, dy)[0] * f32(b, invCount)[0];
    const rowScale = newF32(N);
    for (let i = 0; i < N; i++) rowScale[i] = lab[i] >= 0 ? s : 0;
    const d = newF32(N * V);
    addon.crossEntropyBwd(f32(b, logits), lab, f32(b, lse), rowScale, d, N, V);
    return b.makeTensorInfo(logits.shape, 'float32', d);
  });
  registerFusedGradients();
}

/** Exact (erf) GELU x·Φ(x), one kernel forward and backward. Only on the native backend (caps.hasFusedGelu()). */
export function fusedGelu(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(NATIVE_FUSED_KERNELS.gelu, { x }) as tf.Tensor;
}

/**
 * Rotary position embedding (GPT-NeoX rotate-half form) on the first r dims of x [..., T, hs]:
 * x[:r]·cos + rotate_half(x[:r])·sin with cos/sin [T, r]; dims r… pass through. Only on the native backend
 * (caps.hasFusedRotary()); replaces 3 slices, a negation, a concat, 2 products and a sum (and their gradients).
 */
export function fusedRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(NATIVE_FUSED_KERNELS.rotary, { x, cos, sin }) as tf.Tensor;
}

/**
 * softmax(q kᵀ·scale + causal mask) v for q, k, v of shape [..., T, D] (e.g. [B, H, T, D]); scale defaults to 1/√D.
 * Only on the native backend (caps.hasFusedAttention()).
 */
export function fusedCausalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale?: number): tf.Tensor {
  const D = q.shape[q.shape.length - 1];
  const [out] = tf.engine().runKernel(NATIVE_FUSED_KERNELS.attention, { q, k, v },
    { scale: scale ?? 1 / Math.sqrt(D) }) as tf.Tensor[];
  return out;
}

/** Layer norm over the last axis with affine gamma, beta. Only on the native backend (caps.hasFusedLayerNorm()). */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const [y] = tf.engine().runKernel(NATIVE_FUSED_KERNELS.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
  return y;
}

/**
 * Mean cross-entropy of logits [..., V] against int32 labels [...]; labels < 0 are left out of the mean
 * (masked prompt tokens in SFT). Only on the native backend (caps.hasFusedCrossEntropy()).
 */
export function fusedCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const [loss] = tf.engine().runKernel(NATIVE_FUSED_KERNELS.crossEntropy, { logits, labels }) as tf.Tensor[];
  return loss as tf.Scalar;
}
