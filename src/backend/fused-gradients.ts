// Gradients of the fused kernels named in caps.ts (NATIVE_FUSED_KERNELS). tfjs keys gradients by kernel name
// for every backend at once, so they live here, once: each backend that implements a fused kernel registers
// the forward kernel and the backward kernel named in FUSED_GRAD_KERNELS, and calls registerFusedGradients().
import * as tf from '@tensorflow/tfjs';
import { NATIVE_FUSED_KERNELS } from './caps';

/** Backward kernels: each fused-kernel backend registers these names with the inputs shown below. */
export const FUSED_GRAD_KERNELS = {
  gelu: 'MidtrainGeluGrad',
  rotary: 'MidtrainRotaryGrad',
  attention: 'MidtrainCausalAttentionGrad',
  layerNorm: 'MidtrainLayerNormGrad',
  crossEntropy: 'MidtrainCrossEntropyGrad',
} as const;

const G = FUSED_GRAD_KERNELS;

/** Registers the gradients of every fused kernel (idempotent). */
export function registerFusedGradients(): void {
  const register = (config: tf.GradConfig) => {
    if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
  };
  register({
    kernelName: NATIVE_FUSED_KERNELS.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(G.gelu, { x: saved[0], dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  register({
    kernelName: NATIVE_FUSED_KERNELS.rotary,
    inputsToSave: ['cos', 'sin'],
    gradFunc: (dy, saved) => {
      const [cos, sin] = saved;
      // position tables are constants; their gradient is never used but tfjs asks for one per input
      return {
        x: () => tf.engine().runKernel(G.rotary, { x: dy as tf.Tensor, cos, sin }) as tf.Tensor,
        cos: () => tf.zerosLike(cos),
        sin: () => tf.zerosLike(sin),
      };
    },
  });
  register({
    kernelName: NATIVE_FUSED_KERNELS.attention,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy] = dys as tf.Tensor[];
      const [q, k, v, out, lse] = saved;
      // One backward kernel call serves all three input gradients. It runs here, not inside the closures:
      // tfjs runs each closure in its own tidy, which would dispose the other two results.
      const [dq, dk, dv] = tf.engine().runKernel(G.attention, { q, k, v, out, lse, dy }, attrs) as tf.Tensor[];
      return { q: () => dq, k: () => dk, v: () => dv };
    },
  });
  register({
    kernelName: NATIVE_FUSED_KERNELS.layerNorm,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved) => {
      const [dy] = dys as tf.Tensor[];
      const [x, gamma, mean, rstd] = saved;
      const [dx, dgamma, dbeta] = tf.engine().runKernel(G.layerNorm, { x, gamma, mean, rstd, dy }) as tf.Tensor[];
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  });
  register({
    kernelName: NATIVE_FUSED_KERNELS.crossEntropy,
    inputsToSave: ['logits', 'labels'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved) => {
      const [dy] = dys as tf.Tensor[];
      const [logits, labels, lse, invCount] = saved;
      return {
        logits: () => tf.engine().runKernel(G.crossEntropy, { logits, labels, lse, invCount, dy }) as tf.Tensor,
        labels: () => tf.zeros(labels.shape, 'float32'),
      };
    },
  });
}
