// Capability flags of the active tfjs backend, so the model code can pick the fast formulation of an op
// without knowing which backend runs it (one place to ask; docs/engine.md has the CPU kernels).
//
// Why flags instead of backend names in the engine: the wasm backend's matmul with a transposed operand
// runs at 1–3 GFLOP/s (an explicit transpose + plain matmul is ~10x faster there), while the native,
// tensorflow and webgpu backends handle transposes inside the kernel at full speed. Fused kernels
// (attention, layer norm, cross-entropy, GELU, rotary, AdamW) exist on the native and webgpu backends.
import * as tf from '@tensorflow/tfjs';

/** Backends whose MatMul/BatchMatMul take transposeA/transposeB at full speed. */
const FAST_TRANSPOSE_BACKENDS = new Set(['native', 'tensorflow', 'webgpu', 'webgl']);

/** Fused kernels the native and webgpu backends register (kernel names for `tf.engine().runKernel`). */
export const NATIVE_FUSED_KERNELS = {
  /** Causal multi-head attention forward: inputs {q, k, v} [B, H, T, Dh] → [B, H, T, Dh]. */
  attention: 'MidtrainCausalAttention',
  /** Layer norm over the last axis: inputs {x, gamma, beta}, attrs {eps}. */
  layerNorm: 'MidtrainLayerNorm',
  /** Mean token cross-entropy from logits: inputs {logits [N, V], labels int32 [N]}. */
  crossEntropy: 'MidtrainCrossEntropy',
  /** Rotary position embedding, rotate-half form: inputs {x [..., T, hs], cos [T, r], sin [T, r]}. */
  rotary: 'MidtrainRotary',
  /** Exact (erf) GELU: inputs {x}; one output, the gradient kernel recomputes from x. */
  gelu: 'MidtrainGelu',
} as const;

function activeBackend(): string {
  return tf.getBackend();
}

/** True when MatMul/BatchMatMul with transposeA/transposeB is as fast as without (no explicit transpose needed). */
export function fastTransposedMatmul(): boolean {
  return FAST_TRANSPOSE_BACKENDS.has(activeBackend());
}

/**
 * True when tf.fused.matMul with a bias is one native kernel that adds the bias in place into the GEMM's
 * output (native-kernels.ts _FusedMatMul): no separate [N, out] product tensor before the bias.
 */
export function hasFusedBiasMatmul(): boolean {
  return activeBackend() === 'native';
}

/** True when the active backend has a registered kernel of this name (e.g. one of NATIVE_FUSED_KERNELS). */
export function hasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, activeBackend()) !== undefined;
}

/** True when the native fused causal attention kernel (forward + backward) is available on the active backend. */
export function hasFusedAttention(): boolean {
  return hasKernel(NATIVE_FUSED_KERNELS.attention);
}

/** True when the native fused layer norm kernel (forward + backward) is available on the active backend. */
export function hasFusedLayerNorm(): boolean {
  return hasKernel(NATIVE_FUSED_KERNELS.layerNorm);
}

/** True when the native fused cross-entropy kernel (forward + backward) is available on the active backend. */
export function hasFusedCrossEntropy(): boolean {
  return hasKernel(NATIVE_FUSED_KERNELS.crossEntropy);
}

/**
 * True when the native fused GELU kernel (native-fused.ts fusedGelu) is available: one output tensor instead
 * of the ~5 intermediates of x·½(1 + erf(x/√2)) that the gradient tape keeps alive until the backward pass
 * (on the small preset at B 16 those are ~4 × 16 MB per layer).
 */
export function hasFusedGelu(): boolean {
  return hasKernel(NATIVE_FUSED_KERNELS.gelu);
}

/** True when the native fused rotary-embedding kernel (native-fused.ts fusedRotary) is available. */
export function hasFusedRotary(): boolean {
  return hasKernel(NATIVE_FUSED_KERNELS.rotary);
}

/**
 * True when the backend queues work on a device and every readback makes the host wait for it to drain
 * (webgpu): the training loop then reads each step's loss and gradient norm one step late, after the next
 * step is recorded, so the GPU is not idle while the host records the next step. MIDTRAIN_LOOKAHEAD=0 turns
 * it off (for before/after measurements). CPU backends compute as they are called: nothing to overlap.
 */
export function deviceRunsAhead(): boolean {
  return activeBackend() === 'webgpu' && process.env.MIDTRAIN_LOOKAHEAD !== '0';
}

/**
 * True when AdamW can run as one native in-place pass per parameter (native.ts nativeFusedAdamW, the same
 * signature as webgpu-adamw's fusedAdamW: no new tensors per step, ~13 tfjs ops per parameter → one loop).
 */
export function hasNativeAdamW(): boolean {
  return activeBackend() === 'native';
}
