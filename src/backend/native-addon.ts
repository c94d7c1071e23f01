// Loads the native CPU kernel addon (native/build/midtrain_native.node, built by `npm run build:native`).
// Kept apart from the tfjs wiring so tests and benchmarks can call the kernels directly.
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from '../config';

/** Arrays of 4-byte elements (float32 or int32 tensors), which the layout kernels copy as raw words. */
export type Word32Array = Float32Array | Int32Array;

/** The functions the addon exports (native/src/addon.cc). All outputs are preallocated by the caller. */
export interface NativeAddon {
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batchA: number, batchB: number, m: number, n: number,
    k: number, transA: boolean, transB: boolean): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, outShape: Int32Array, aStrides: Int32Array,
    bStrides: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  geluBwd(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  reduceInner(op: number, x: Float32Array, out: Float32Array, outer: number, inner: number): void;
  sumOuter(x: Float32Array, out: Float32Array, outer: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number, logSoftmax: boolean): void;
  transpose(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: Int32Array, perm: Int32Array): void;
  gatherRows(x: Float32Array, idx: Int32Array, out: Float32Array, rows: number, cols: number): void;
  segmentSumRows(x: Float32Array, idx: Int32Array, out: Float32Array, numSegments: number, cols: number): void;
  addN(xs: Float32Array[], out: Float32Array): void;
  copyBox(src: Word32Array, srcShape: Int32Array, srcOff: Int32Array, dst: Word32Array, dstShape: Int32Array,
    dstOff: Int32Array, box: Int32Array): void;
  layerNormFwd(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, eps: number): void;
  layerNormBwd(x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, rows: number, cols: number): void;
  attentionFwd(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, bh: number,
    t: number, d: number, scale: number): void;
  attentionBwd(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dout: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, bh: number, t: number, d: number,
    scale: number): void;
  rotary(x: Float32Array, cos: Float32Array, sin: Float32Array, y: Float32Array, t: number, hs: number, r: number,
    transpose: boolean): void;
  crossEntropyFwd(logits: Float32Array, labels: Int32Array, rowLoss: Float32Array, lse: Float32Array, n: number,
    v: number): void;
  crossEntropyBwd(logits: Float32Array, labels: Int32Array, lse: Float32Array, rowScale: Float32Array,
    dlogits: Float32Array, n: number, v: number): void;
  adamw(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, bc1: number, bc2: number, gradScale: number): void;
  setThreads(n: number): void;
  info(): { isa: string; threads: number; blasThreads: number; blasConfig: string; blasCore: string };
}

/** Op codes shared with native/src/kernels.h (enum BinaryOp / UnaryOp / ReduceOp). */
export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, Pow: 7 } as const;
export const UNARY_OPS = {
  Exp: 0, Log: 1, Neg: 2, Sqrt: 3, Rsqrt: 4, Square: 5, Abs: 6, Relu: 7, Sigmoid: 8, Tanh: 9, Erf: 10,
  Reciprocal: 11, Gelu: 12, Step: 13, Log1p: 14, Sign: 15, Floor: 16, Elu: 17, Softplus: 18, Expm1: 19, LeakyRelu: 20,
} as const;
export const REDUCE_OPS = { Sum: 0, Max: 1, Min: 2, Mean: 3, Prod: 4 } as const;

export type AddonLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

let cached: AddonLoad | undefined;

export function addonPath(): string {
  return process.env.MIDTRAIN_NATIVE_ADDON ?? path.join(projectRoot(), 'native', 'build', 'midtrain_native.node');
}

/**
 * OpenBLAS 0.3.21 (Debian 12) does not recognise some recent Xeons and falls back to its Prescott (SSE3)
 * kernels, 5-8x slower than its AVX-512 ones on the same CPU (measured: 30 vs 210 GFLOP/s on
 * [4096x256]·[256x8192]). It reads OPENBLAS_CORETYPE once, when the library loads, so we choose from the CPU
 * flags before loading the addon, and only when the user has not chosen.
 */
export function openblasCoreHint(): string | undefined {
  let flags = '';
  try {
    const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
    flags = ` ${(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '')} `;
  } catch {
    return undefined;  // not Linux: let OpenBLAS detect
  }
  const has = (f: string) => flags.includes(` ${f} `);
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every(has)) return 'SkylakeX';
  if (has('avx2') && has('fma')) return 'Haswell';
  return undefined;
}

/** Loads the addon once; never throws (the reason says what to do instead). */
export function loadNativeAddon(): AddonLoad {
  if (cached) return cached;
  const file = addonPath();
  if (!fs.existsSync(file)) {
    cached = { ok: false, reason: `native kernels not built (${file} missing; run \`npm run build:native\`)` };
    return cached;
  }
  const setCore = process.env.OPENBLAS_CORETYPE === undefined ? openblasCoreHint() : undefined;
  if (setCore) process.env.OPENBLAS_CORETYPE = setCore;
  // OpenMP threads spin ~0.3 s after each parallel loop by default; on a shared machine (more runnable
  // threads than cores) that spinning starves the threads doing the work. Spin briefly, then sleep.
  const setSpin = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (setSpin) process.env.GOMP_SPINCOUNT = '20000';
  try {
    const addon = require(file) as NativeAddon;
    addon.info();
    cached = { ok: true, addon, path: file };
  } catch (e) {
    cached = { ok: false, reason: `native kernels failed to load from ${file}: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    // the choice only matters at load time; do not leak it into child processes (e.g. a PyTorch reference)
    if (setCore) delete process.env.OPENBLAS_CORETYPE;
    if (setSpin) delete process.env.GOMP_SPINCOUNT;
  }
  return cached;
}
