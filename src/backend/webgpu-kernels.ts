// Fixes to tfjs-backend-webgpu kernels that break our training step, registered over the originals.
//
// AddN: tfjs packs every input into one shader, one storage buffer each. WebGPU allows 8 storage buffers
// per stage by default (lavapipe, and Dawn unless a higher limit is requested), so tf.addN over more than
// 7 tensors — the global gradient norm sums one term per parameter — makes an invalid pipeline; Dawn only
// logs a validation error and the result reads as zeros (gradient clipping silently never fired).
// The fix: add in chunks of at most (limit − 1) inputs, then add the partial sums the same way.
import * as tf from '@tensorflow/tfjs';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type KernelArgs = { inputs: TensorInfo[] | Record<string, TensorInfo>; backend: { disposeData(id: object): void }; attrs?: object };

let installedFor: object | undefined;

/** Registers the fixed kernels for the active webgpu backend (idempotent per backend instance). */
export function registerWebgpuKernelFixes(maxStorageBuffers: number): void {
  const backend = tf.backend();
  if (installedFor === backend) return;
  const orig = tf.getKernel('AddN', 'webgpu');
  if (!orig) throw new Error('webgpu: no AddN kernel registered (is @tensorflow/tfjs-backend-webgpu loaded?)');
  const origFunc = (orig as unknown as { kernelFunc: (a: KernelArgs) => TensorInfo }).kernelFunc;
  if (!(orig as unknown as { __midtrainChunked?: boolean }).__midtrainChunked) {
    const maxInputs = Math.max(2, maxStorageBuffers - 1); // one binding is the output
    const chunked = (args: KernelArgs): TensorInfo => {
      let xs = args.inputs as TensorInfo[];
      const temps: TensorInfo[] = [];
      while (xs.length > maxInputs) {
        const next: TensorInfo[] = [];
        for (let i = 0; i < xs.length; i += maxInputs) {
          const part = xs.slice(i, i + maxInputs);
          if (part.length === 1) { next.push(part[0]); continue; }
          const sum = origFunc({ ...args, inputs: part });
          temps.push(sum);
          next.push(sum);
        }
        xs = next;
      }
      const out = origFunc({ ...args, inputs: xs });
      for (const t of temps) args.backend.disposeData(t.dataId);
      return out;
    };
    tf.unregisterKernel('AddN', 'webgpu');
    tf.registerKernel({ kernelName: 'AddN', backendName: 'webgpu', kernelFunc: chunked as never });
    (tf.getKernel('AddN', 'webgpu') as unknown as { __midtrainChunked?: boolean }).__midtrainChunked = true;
  }
  installedFor = backend;
}
