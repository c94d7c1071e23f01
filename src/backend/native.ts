// The 'native' tfjs backend: tfjs's cpu backend (tensors in ordinary JS TypedArrays, so no wasm heap cap
// and memory the GC returns) with its hot kernels replaced by C++ ones (OpenBLAS GEMM, AVX2/AVX-512 loops,
// OpenMP threads) from native/build/midtrain_native.node, plus fused training kernels (native-fused.ts).
// When the addon is not built or fails to load, tryNativeBackend() says why and the chooser moves on (wasm).
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadNativeAddon, NativeAddon } from './native-addon';
import { registerFusedKernels } from './native-fused';
import { makeNativeKernels, values } from './native-kernels';

export const NATIVE_BACKEND = 'native';

class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // the cpu backend prints a "use tfjs-node" banner on first write; that advice does not apply here
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /**
   * dataSync()/data() return a copy: the cpu backend hands out its live array, and nativeAdamW updates
   * parameters in place, so a snapshot taken with dataSync() (a checkpoint) would otherwise change later.
   */
  override readSync(dataId: object): tf.backend_util.BackendValues {
    const v = super.readSync(dataId);
    return ArrayBuffer.isView(v) ? (v as Float32Array).slice() : v;
  }
}

let registered: { addon: NativeAddon; overridden: string[] } | undefined;

/**
 * Registers the 'native' backend: every cpu kernel (so any op works), then the native overrides and fused
 * kernels on top. Idempotent. Throws with the reason when the addon cannot be loaded.
 */
export function registerNativeBackend(): { addon: NativeAddon; overridden: string[] } {
  if (registered) return registered;
  const load = loadNativeAddon();
  if (!load.ok) throw new Error(load.reason);
  const { addon } = load;
  const threads = Number(process.env.MIDTRAIN_NATIVE_THREADS ?? 0);
  if (threads > 0) addon.setThreads(threads);
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0 /* lowest priority: chosen explicitly */);
  const native = makeNativeKernels(addon);
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (native[k.kernelName]) continue;
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
  for (const [kernelName, kernelFunc] of Object.entries(native)) {
    tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  registerFusedKernels(addon, NATIVE_BACKEND);
  registered = { addon, overridden: Object.keys(native).sort() };
  return registered;
}

/** One line describing the loaded kernels (ISA, BLAS core, threads). */
export function nativeDetail(): string {
  const { addon, overridden } = registerNativeBackend();
  const i = addon.info();
  return `native C++ kernels (${i.isa}, OpenBLAS ${i.blasCore}, ${i.threads} threads, ${overridden.length} native kernels + fused attention, layer norm, cross-entropy, rotary, GELU, AdamW)`;
}

/** Used by the backend chooser (choose.ts): register the backend and make it active, or say why not. */
export async function tryNativeBackend(): Promise<{ ok: true; detail: string } | { ok: false; reason: string }> {
  try {
    registerNativeBackend();
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (!(await tf.setBackend(NATIVE_BACKEND))) return { ok: false, reason: `tf.setBackend('${NATIVE_BACKEND}') failed` };
  await tf.ready();
  return { ok: true, detail: nativeDetail() };
}

/**
 * The AdamW.step hook (src/train/optim.ts), same signature as the webgpu one: one in-place native pass per
 * parameter; weight decay only where `decays(name)`.
 */
export function nativeFusedAdamW(
  params: Record<string, tf.Variable>, m: Record<string, tf.Variable>, v: Record<string, tf.Variable>,
  grads: Record<string, tf.Tensor>, o: { beta1: number; beta2: number; eps: number; weightDecay: number; lr: number; t: number },
  decays: (name: string) => boolean,
): void {
  for (const name of Object.keys(params)) {
    if (!grads[name]) throw new Error(`AdamW: no gradient for ${name}`);
    nativeAdamW([params[name]], [grads[name]], [m[name]], [v[name]], {
      lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, step: o.t, weightDecay: decays(name) ? o.weightDecay : 0,
    });
  }
}

/** Hyperparameters of one AdamW step (PyTorch semantics: decoupled decay p ← p·(1 − lr·wd), then Adam). */
export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
  /** Multiplies every gradient first (e.g. a global-norm clip factor); default 1. */
  gradScale?: number;
}

/**
 * AdamW over many parameters in one native pass per tensor, updating the variables' buffers in place (no new
 * tensors, so no allocation per step). Only on the native backend: param, m, v must be float32 variables of
 * equal shape. A buffer shared with another tensor (refCount > 1) is copied first so no other tensor changes.
 */
export function nativeAdamW(params: tf.Variable[], grads: tf.Tensor[], m: tf.Variable[], v: tf.Variable[],
  hp: AdamWStep): void {
  if (tf.getBackend() !== NATIVE_BACKEND) throw new Error(`nativeAdamW: active backend is '${tf.getBackend()}', not '${NATIVE_BACKEND}'`);
  const { addon } = registerNativeBackend();
  const backend = tf.backend() as MathBackendCPU;
  const bc1 = 1 - Math.pow(hp.beta1, hp.step), bc2 = 1 - Math.pow(hp.beta2, hp.step);
  const own = (t: tf.Variable): Float32Array => {
    const data = backend.data.get(t.dataId);
    if (t.dtype !== 'float32') throw new Error(`nativeAdamW: variable ${t.name} is ${t.dtype}, expected float32`);
    if (data.refCount > 1) {
      // private copy before writing in place (t.clone() would share the buffer)
      const copy = tf.tensor((data.values as Float32Array).slice(), t.shape, 'float32');
      t.assign(copy);
      copy.dispose();
    }
    return backend.data.get(t.dataId).values as Float32Array;
  };
  params.forEach((p, i) => {
    const g = grads[i], mi = m[i], vi = v[i];
    if (!g || !mi || !vi || !tf.util.arraysEqual(p.shape, g.shape) || !tf.util.arraysEqual(p.shape, mi.shape) ||
        !tf.util.arraysEqual(p.shape, vi.shape)) {
      throw new Error(`nativeAdamW: parameter ${i} (${p.name}, [${p.shape}]) has no gradient/state of the same shape`);
    }
    addon.adamw(own(p), own(mi), own(vi), values(backend, g) as Float32Array, hp.lr, hp.beta1, hp.beta2, hp.eps,
      hp.weightDecay, bc1, bc2, hp.gradScale ?? 1);
  });
}
