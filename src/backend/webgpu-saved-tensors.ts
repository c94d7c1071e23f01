// Cheaper saved tensors for backprop on the webgpu backend. tfjs keeps each tensor a gradient needs by
// Engine.clone(), which runs the Identity kernel through the whole kernel path (engine bookkeeping, kernel
// lookup, profiler checks, a tape node of its own) before adding the clone's own tape node: 216 of the 524
// kernels of a Pythia-70M-shaped step were these. On webgpu Identity only takes a reference to the same GPU
// buffer, so the clone here does just that (backend.incRef, as webgpu's Identity does) and makes the
// tensor directly, with the same tape node for the clone (its gradient is a Cast of dy, as tfjs's). Other
// backends keep tfjs's clone.
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  backend: { incRef(id: object): void };
  backendName: string;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  addTapeNode(scope: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[], grad: (dy: tf.Tensor) => Record<string, () => tf.Tensor>, saved: tf.Tensor[], attrs: object): void;
  state: { activeScope: { name: string } };
  __midtrainFastClone?: boolean;
}

/** Installs the cheap clone (idempotent; MIDTRAIN_WEBGPU_FAST_CLONE=0 keeps tfjs's, for comparisons). */
export function installFastClone(): void {
  if (process.env.MIDTRAIN_WEBGPU_FAST_CLONE === '0') return;
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.__midtrainFastClone) return;
  const tfjsClone = engine.clone;
  engine.clone = function clone(this: EngineInternals, x: tf.Tensor): tf.Tensor {
    if (this.backendName !== 'webgpu') return tfjsClone.call(this, x);
    this.backend.incRef(x.dataId);
    const y = this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
    const grad = (dy: tf.Tensor) => ({ x: () => tf.engine().runKernel('Cast', { x: dy }, { dtype: 'float32' }) as tf.Tensor });
    this.addTapeNode(this.state.activeScope.name, { x }, [y], grad, [], {});
    return y;
  };
  engine.__midtrainFastClone = true;
}
