// tfjs kernels of the 'native' backend that call the C++ addon: the hot generic ops of a GPT training step
// (matmuls, broadcasting elementwise, reductions, softmax, transpose, embedding gather and its gradient).
// Tensors live in plain TypedArrays exactly as in tfjs's cpu backend, so any case not handled here (other
// dtypes, unusual attributes) falls through to the cpu backend's own kernel on the same data.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BINARY_OPS, NativeAddon, REDUCE_OPS, UNARY_OPS } from './native-addon';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * A zeroed float32 output array of n elements: the one place kernel outputs are allocated. (Tried: a full GC
 * every 512 MB allocated; RSS stayed the same, because the peak is the live set of one step, not garbage.)
 */
export function newF32(n: number): Float32Array {
  return new Float32Array(n);
}

/**
 * The tensor's values as the TypedArray its dtype implies. tfjs's cpu Cast is a shallow copy when no
 * precision is lost (int32/bool → float32 keeps the Int32Array/Uint8Array under a float32 dtype), so a
 * float32 tensor can hold other arrays; those are converted here (a copy) before reaching C++.
 */
export function values(backend: MathBackendCPU, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  const v = backend.data.get(t.dataId).values as Float32Array | Int32Array | Uint8Array;
  if (t.dtype === 'float32' && !(v instanceof Float32Array)) return Float32Array.from(v);
  if (t.dtype === 'int32' && !(v instanceof Int32Array)) return Int32Array.from(v);
  return v;
}
const f32 = (b: MathBackendCPU, t: TensorInfo) => values(b, t) as Float32Array;

/** The cpu backend's kernel of this name, used as the fallback for cases the native kernel does not take. */
function cpuKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`midtrain native: tfjs cpu backend has no kernel ${name}`);
  return k.kernelFunc as unknown as KernelFn;
}

/** Element strides of `shape` broadcast to `outShape` (0 along broadcast dims), right-aligned. */
export function broadcastStrides(shape: number[], outShape: number[]): Int32Array {
  const r = outShape.length;
  const s = new Int32Array(r);
  let stride = 1;
  for (let j = r - 1, i = shape.length - 1; j >= 0; j--, i--) {
    const d = i >= 0 ? shape[i] : 1;
    s[j] = d === 1 ? 0 : stride;
    stride *= d;
  }
  return s;
}

export function makeNativeKernels(addon: NativeAddon): Record<string, KernelFn> {
  const kernels: Record<string, KernelFn> = {};

  // ---- matmul: C = op(A)·op(B), batch dims broadcast when equal or one of them is 1
  const batchMatMul: KernelFn = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length, rb = b.shape.length;
    const batchShapeA = a.shape.slice(0, -2), batchShapeB = b.shape.slice(0, -2);
    const batchA = size(batchShapeA), batchB = size(batchShapeB);
    const sameBatch = batchA === batchB && tf.util.arraysEqual(batchShapeA, batchShapeB);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !(sameBatch || batchA === 1 || batchB === 1)) {
      return cpuKernel(tf.BatchMatMul)(args);
    }
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== kb) throw new Error(`matMul: inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) do not match`);
    const outBatchShape = batchA >= batchB ? batchShapeA : batchShapeB;
    const outShape = [...(outBatchShape.length >= batchShapeB.length ? outBatchShape : batchShapeB), m, n];
    const out = newF32(Math.max(batchA, batchB) * m * n);
    addon.matmul(f32(backend, a), f32(backend, b), out, batchA, batchB, m, n, k, !!transposeA, !!transposeB);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  kernels[tf.BatchMatMul] = batchMatMul;

  kernels[tf._FusedMatMul] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const { activation, leakyreluAlpha } = (args.attrs ?? {}) as { activation?: string; leakyreluAlpha?: number };
    const act = activation ?? 'linear';
    if (preluActivationWeights || !['linear', 'relu', 'sigmoid', 'leakyrelu', 'elu'].includes(act)) {
      return cpuKernel(tf._FusedMatMul)(args);
    }
    let y = batchMatMul({ inputs: { a: a!, b: b! }, backend, attrs: args.attrs }) as TensorInfo;
    if (bias && bias.dtype === 'float32' && tf.util.arraysEqual(tf.backend_util.assertAndGetBroadcastShape(y.shape, bias.shape), y.shape)) {
      // in place: y is this kernel's own fresh GEMM output, and the add reads each element before writing it
      const yv = f32(backend, y);
      addon.binary(BINARY_OPS.Add, yv, f32(backend, bias), yv, Int32Array.from(y.shape),
        broadcastStrides(y.shape, y.shape), broadcastStrides(bias.shape, y.shape));
    } else if (bias) {
      const biased = binaryKernel('Add')({ inputs: { a: y, b: bias }, backend }) as TensorInfo;
      backend.disposeIntermediateTensorInfo(y);
      y = biased;
    }
    if (act !== 'linear') {
      const opName = act === 'relu' ? 'Relu' : act === 'sigmoid' ? 'Sigmoid' : act === 'elu' ? 'Elu' : 'LeakyRelu';
      const out = newF32(size(y.shape));
      addon.unary(UNARY_OPS[opName], f32(backend, y), out, leakyreluAlpha ?? 0.2);
      backend.disposeIntermediateTensorInfo(y);
      y = backend.makeTensorInfo(y.shape, 'float32', out);
    }
    return y;
  };

  // ---- broadcasting binary ops on float32
  function binaryKernel(name: keyof typeof BINARY_OPS): KernelFn {
    const op = BINARY_OPS[name];
    const fallback = cpuKernel(name);
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const out = newF32(size(outShape));
      addon.binary(op, f32(backend, a), f32(backend, b), out, Int32Array.from(outShape),
        broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
      return backend.makeTensorInfo(outShape, 'float32', out);
    };
  }
  for (const name of Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]) kernels[name] = binaryKernel(name);

  // ---- unary ops on float32
  function unaryKernel(name: keyof typeof UNARY_OPS): KernelFn | undefined {
    if (!tf.getKernel(name, 'cpu')) return undefined;  // e.g. Gelu has no tfjs kernel
    const op = UNARY_OPS[name];
    const fallback = cpuKernel(name);
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { x } = args.inputs as { x: TensorInfo };
      if (x.dtype !== 'float32') return fallback(args);
      const alpha = Number((args.attrs as { alpha?: number } | undefined)?.alpha ?? 0);
      const out = newF32(size(x.shape));
      addon.unary(op, f32(backend, x), out, alpha);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    };
  }
  for (const name of Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]) {
    const k = unaryKernel(name);
    if (k) kernels[name] = k;
  }

  // ---- reductions: reduced axes innermost → row reduce; leading (sum/mean) → column sum; else transpose first
  function reduceKernel(name: keyof typeof REDUCE_OPS): KernelFn {
    const op = REDUCE_OPS[name];
    const fallback = cpuKernel(name);
    return (args) => {
      const backend = args.backend as MathBackendCPU;
      const { x } = args.inputs as { x: TensorInfo };
      // tfjs names the axes `reductionIndices` for Max and `axis` for the others
      const attrs = (args.attrs ?? {}) as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
      const axis = attrs.axis ?? attrs.reductionIndices ?? null;
      const keepDims = attrs.keepDims;
      if (x.dtype !== 'float32' || x.shape.length > 8) return fallback(args);
      const rank = x.shape.length;
      const axes = tf.util.parseAxisParam(axis as number | number[], x.shape).sort((p, q) => p - q);
      const kept = x.shape.filter((_, i) => !axes.includes(i));
      const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept;
      const outer = size(kept), inner = size(axes.map((i) => x.shape[i]));
      const out = newF32(outer);
      const xv = f32(backend, x);
      const innermost = axes.every((ax, i) => ax === rank - axes.length + i);
      const leading = axes.every((ax, i) => ax === i);
      if (innermost) {
        addon.reduceInner(op, xv, out, outer, inner);
      } else if (leading && (name === 'Sum' || name === 'Mean')) {
        addon.sumOuter(xv, out, inner, outer);
        if (name === 'Mean') for (let i = 0; i < outer; i++) out[i] /= inner;
      } else {
        const perm = [...x.shape.keys()].filter((i) => !axes.includes(i)).concat(axes);
        const moved = newF32(xv.length);
        addon.transpose(xv, moved, Int32Array.from(x.shape), Int32Array.from(perm));
        addon.reduceInner(op, moved, out, outer, inner);
      }
      return backend.makeTensorInfo(outShape, 'float32', out);
    };
  }
  for (const name of Object.keys(REDUCE_OPS) as (keyof typeof REDUCE_OPS)[]) kernels[name] = reduceKernel(name);

  kernels[tf.Softmax] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { logits } = args.inputs as { logits: TensorInfo };
    const { dim } = (args.attrs ?? {}) as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || (dim !== -1 && dim !== rank - 1)) return cpuKernel(tf.Softmax)(args);
    const cols = logits.shape[rank - 1];
    const out = newF32(size(logits.shape));
    addon.softmax(f32(backend, logits), out, size(logits.shape) / cols, cols, false);
    return backend.makeTensorInfo(logits.shape, 'float32', out);
  };

  kernels[tf.Transpose] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = (args.attrs ?? {}) as { perm: number[] };
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length > 8) return cpuKernel(tf.Transpose)(args);
    const outShape = perm.map((p) => x.shape[p]);
    const n = size(x.shape);
    const out = x.dtype === 'float32' ? newF32(n) : new Int32Array(n);
    addon.transpose(values(backend, x) as Float32Array, out, Int32Array.from(x.shape), Int32Array.from(perm));
    return backend.makeTensorInfo(outShape, x.dtype, out);
  };

  // Embedding lookup: rows of x (axis 0) picked by int32 indices.
  kernels[tf.GatherV2] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = (args.attrs ?? {}) as { axis: number; batchDims: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (x.dtype !== 'float32' || indices.dtype !== 'int32' || ax !== 0 || (batchDims ?? 0) !== 0) {
      return cpuKernel(tf.GatherV2)(args);
    }
    const rows = x.shape[0], cols = size(x.shape.slice(1));
    const idx = values(backend, indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= rows) throw new Error(`GatherV2: index ${idx[i]} at position ${i} is not in [0, ${rows - 1}]`);
    }
    const out = newF32(idx.length * cols);
    addon.gatherRows(f32(backend, x), idx, out, rows, cols);
    return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], 'float32', out);
  };

  // Gradient of the embedding gather (tf.gather's gradient is an UnsortedSegmentSum over axis 0).
  kernels[tf.UnsortedSegmentSum] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const { numSegments } = (args.attrs ?? {}) as { numSegments: number };
    if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || segmentIds.shape.length !== 1 ||
        segmentIds.shape[0] !== x.shape[0]) {
      return cpuKernel(tf.UnsortedSegmentSum)(args);
    }
    const cols = size(x.shape.slice(1));
    const out = newF32(numSegments * cols);
    addon.segmentSumRows(f32(backend, x), values(backend, segmentIds) as Int32Array, out, numSegments, cols);
    return backend.makeTensorInfo([numSegments, ...x.shape.slice(1)], 'float32', out);
  };

  // ---- layout: slice, pad, concat, split are box copies between arrays of 4-byte elements
  const i32 = (a: number[]) => Int32Array.from(a);
  const word = (t: TensorInfo) => t.dtype === 'float32' || t.dtype === 'int32';
  const alloc = (dtype: string, n: number) => (dtype === 'int32' ? new Int32Array(n) : newF32(n));
  const zeros = (r: number) => new Array<number>(r).fill(0);

  kernels[tf.Slice] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { begin, size: sz } = (args.attrs ?? {}) as { begin: number | number[]; size: number | number[] };
    if (!word(x) || x.shape.length === 0 || x.shape.length > 8) return cpuKernel(tf.Slice)(args);
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
    tf.slice_util.assertParamsValid(x as tf.Tensor, b, s);
    const out = alloc(x.dtype, size(s));
    if (out.length > 0) {
      addon.copyBox(values(backend, x) as Float32Array, i32(x.shape), i32(b), out, i32(s), i32(zeros(s.length)), i32(s));
    }
    return backend.makeTensorInfo(s, x.dtype, out);
  };

  kernels[tf.PadV2] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { paddings, constantValue } = (args.attrs ?? {}) as { paddings: [number, number][]; constantValue: number };
    if (!word(x) || x.shape.length === 0 || x.shape.length > 8) return cpuKernel(tf.PadV2)(args);
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = alloc(x.dtype, size(outShape));
    if (constantValue) out.fill(constantValue);
    if (size(x.shape) > 0) {
      addon.copyBox(values(backend, x) as Float32Array, i32(x.shape), i32(zeros(x.shape.length)), out, i32(outShape),
        i32(paddings.map((p) => p[0])), i32(x.shape));
    }
    return backend.makeTensorInfo(outShape, x.dtype, out);
  };

  kernels[tf.Concat] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const xs = args.inputs as unknown as TensorInfo[];
    const { axis } = (args.attrs ?? {}) as { axis: number };
    const r = xs[0].shape.length;
    if (xs.some((t) => !word(t) || t.dtype !== xs[0].dtype) || r === 0 || r > 8) return cpuKernel(tf.Concat)(args);
    const ax = tf.util.parseAxisParam(axis, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), ax);
    const out = alloc(xs[0].dtype, size(outShape));
    const off = zeros(r);
    for (const t of xs) {
      if (size(t.shape) > 0) {
        addon.copyBox(values(backend, t) as Float32Array, i32(t.shape), i32(zeros(r)), out, i32(outShape), i32(off), i32(t.shape));
      }
      off[ax] += t.shape[ax];
    }
    return backend.makeTensorInfo(outShape, xs[0].dtype, out);
  };

  kernels[tf.SplitV] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = (args.attrs ?? {}) as { numOrSizeSplits: number | number[]; axis: number };
    if (!word(x) || x.shape.length === 0 || x.shape.length > 8) return cpuKernel(tf.SplitV)(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = zeros(x.shape.length);
    const xv = values(backend, x) as Float32Array;
    return sizes.map((s) => {
      const shape = x.shape.slice();
      shape[ax] = s;
      const out = alloc(x.dtype, size(shape));
      if (out.length > 0) addon.copyBox(xv, i32(x.shape), i32(begin), out, i32(shape), i32(zeros(shape.length)), i32(shape));
      begin[ax] += s;
      return backend.makeTensorInfo(shape, x.dtype, out);
    });
  };

  // Cast to float32 makes a real Float32Array (tfjs's cpu Cast would share an Int32Array; see values()).
  kernels[tf.Cast] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = (args.attrs ?? {}) as { dtype: string };
    if (dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return cpuKernel(tf.Cast)(args);
    return backend.makeTensorInfo(x.shape, 'float32', Float32Array.from(backend.data.get(x.dataId).values as Int32Array));
  };

  kernels[tf.AddN] = (args) => {
    const backend = args.backend as MathBackendCPU;
    const ts = args.inputs as unknown as TensorInfo[];
    if (ts.some((t) => t.dtype !== 'float32')) return cpuKernel(tf.AddN)(args);
    const out = newF32(size(ts[0].shape));
    addon.addN(ts.map((t) => f32(backend, t)), out);
    return backend.makeTensorInfo(ts[0].shape, 'float32', out);
  };

  return kernels;
}
