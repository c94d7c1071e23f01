// Our WGSL matmul for the webgpu backend, registered over tfjs's BatchMatMul: the model's forward product
// (x·W), both backward ones (dY·Wᵀ, Xᵀ·dY) and the attention's batched q·kᵀ, P·v and their gradients all
// reach tfjs as BatchMatMul with transposeA/transposeB flags, so this one kernel serves every matmul of a step.
//
// Why: tfjs's MatMulPackedProgram computes a 32×32 output tile per workgroup, 4×4 outputs per thread, with
// scalar loads; on an H200 it reached 0.44× PyTorch's fp32 at 4096² and less at the model's 512-wide shapes.
// Here (the scheme of jax-js's and gpu.cpp's WebGPU matmuls):
// - a workgroup computes a TM×TN output tile from TK-deep tiles of A and B staged in workgroup memory, so
//   each value loaded from global memory is used TN (or TM) times;
// - each thread keeps RM×4 outputs in registers (RM rows, a vec4 of columns), so each pair of workgroup
//   reads feeds 4·RM multiply-adds;
// - global loads are vec4 along the operand's contiguous axis when that axis is a multiple of 4 (k for
//   A, n for B; m for Aᵀ, k for Bᵀ), else four bounds-checked scalars: the transposed variants are the same
//   kernel with the other load pattern, no explicit transpose;
// - the tile size is chosen per shape: the largest tile that still gives enough workgroups to fill a big GPU.
// Optionally (mixed precision, MIDTRAIN_WEBGPU_F16=1 on an adapter with shader-f16) the tiles are kept as
// f16 in workgroup memory and the products accumulate in f32: the numerics of f16 inputs with f32
// accumulation, as tensor-core mixed precision has them.
//
// Batch dims: tfjs's rule: the outer dims of a and b broadcast; here both flatten to one batch index, and a
// batch of 1 on either side is broadcast. Other broadcasts, non-float32 inputs and empty shapes go to tfjs's kernel.
import * as tf from '@tensorflow/tfjs';
import { runWgsl, uniforms } from './webgpu-dispatch';

/** A tile configuration: output tile TM×TN, TK deep, RM rows × 4 columns per thread. */
export interface MatmulTile { TM: number; TN: number; TK: number; RM: number }

/** Tiles from largest to smallest (all 256 threads but the last, 64). */
export const MATMUL_TILES: readonly MatmulTile[] = [
  { TM: 128, TN: 64, TK: 16, RM: 8 },
  { TM: 64, TN: 64, TK: 16, RM: 4 },
  { TM: 32, TN: 32, TK: 16, RM: 4 },
];

/** Workgroups below which a bigger tile leaves a large GPU's compute units idle (an H200 has 132 SMs, 2 workgroups each). */
const FILL_WORKGROUPS = 264;

export interface MatmulShape { batch: number; M: number; N: number; K: number }

/** The largest tile that gives at least FILL_WORKGROUPS workgroups, else the smallest. */
export function chooseTile(s: MatmulShape): MatmulTile {
  for (const t of MATMUL_TILES) if (s.batch * Math.ceil(s.M / t.TM) * Math.ceil(s.N / t.TN) >= FILL_WORKGROUPS) return t;
  return MATMUL_TILES[MATMUL_TILES.length - 1];
}

interface Variant extends MatmulTile {
  transA: boolean; transB: boolean;
  /** vec4 loads/stores (the contiguous axis of A, of B, and N for C is a multiple of 4). */
  vecA: boolean; vecB: boolean; vecC: boolean;
  f16: boolean;
}

function variantName(v: Variant): string {
  return `midtrain-matmul-${v.TM}x${v.TN}x${v.TK}r${v.RM}-${v.transA ? 'T' : 'N'}${v.transB ? 'T' : 'N'}-${+v.vecA}${+v.vecB}${+v.vecC}${v.f16 ? '-f16' : ''}`;
}

/**
 * WGSL for one variant. Workgroup memory holds As as [TK][TM] and Bs as [TK][TN] in vec4s along m and n,
 * so the inner loop reads RM/4 vec4s of A and one of B per k. Thread (tx, ty) owns rows ty·RM … ty·RM+RM−1
 * and columns tx·4 … tx·4+3 of the tile.
 */
export function matmulWgsl(v: Variant): string {
  const { TM, TN, TK, RM } = v;
  const WX = TN / 4, WY = TM / RM, THREADS = WX * WY;
  const ft = v.f16 ? 'f16' : 'f32';
  const slotsA = (TM * TK) / 4, slotsB = (TK * TN) / 4;
  // One vec4 of the operand from global memory, zero outside the matrix. `i` is the element index of the
  // first of 4 consecutive elements along the contiguous axis; `n` how many of them are inside.
  const load = (buf: string, vec: boolean) => vec
    ? `fn load_${buf}(i: u32, inside: bool) -> vec4<f32> { if (inside) { return ${buf}[i / 4u]; } return vec4<f32>(0.0); }`
    : `fn load_${buf}(i: u32, n: u32) -> vec4<f32> {
  var r = vec4<f32>(0.0);
  if (n > 0u) { r.x = ${buf}[i]; }
  if (n > 1u) { r.y = ${buf}[i + 1u]; }
  if (n > 2u) { r.z = ${buf}[i + 2u]; }
  if (n > 3u) { r.w = ${buf}[i + 3u]; }
  return r;
}`;
  // How many of 4 consecutive elements from `start` lie below `end` (vec: all or none, since both are multiples of 4).
  const inside = (vec: boolean, start: string, end: string, other: string) => vec
    ? `(${start} < ${end}) && (${other})`
    : `select(0u, min(4u, ${end} - ${start}), (${start} < ${end}) && (${other}))`;
  // A tile: A[m][k] at aOff + m·K + k, or Aᵀ: A[k][m] at aOff + k·M + m.
  const loadA = v.transA
    ? `let r4 = s % ${TM / 4}u; let kk = s / ${TM / 4}u;
      let gm = m0 + 4u * r4; let gk = k0 + kk;
      As[kk * ${TM / 4}u + r4] = vec4<${ft}>(load_a(aOff + gk * u.M + gm, ${inside(v.vecA, 'gm', 'u.M', 'gk < u.K')}));`
    : `let c4 = s % ${TK / 4}u; let r = s / ${TK / 4}u;
      let gm = m0 + r; let gk = k0 + 4u * c4;
      let a4 = vec4<${ft}>(load_a(aOff + gm * u.K + gk, ${inside(v.vecA, 'gk', 'u.K', 'gm < u.M')}));
      let base = 4u * c4 * ${TM / 4}u + r / 4u; let comp = r % 4u;
      As[base][comp] = a4.x; As[base + ${TM / 4}u][comp] = a4.y; As[base + ${TM / 2}u][comp] = a4.z; As[base + ${(3 * TM) / 4}u][comp] = a4.w;`;
  // B tile: B[k][n] at bOff + k·N + n, or Bᵀ: B[n][k] at bOff + n·K + k.
  const loadB = v.transB
    ? `let c4 = s % ${TK / 4}u; let n = s / ${TK / 4}u;
      let gn = n0 + n; let gk = k0 + 4u * c4;
      let b4 = vec4<${ft}>(load_b(bOff + gn * u.K + gk, ${inside(v.vecB, 'gk', 'u.K', 'gn < u.N')}));
      let base = 4u * c4 * ${TN / 4}u + n / 4u; let comp = n % 4u;
      Bs[base][comp] = b4.x; Bs[base + ${TN / 4}u][comp] = b4.y; Bs[base + ${TN / 2}u][comp] = b4.z; Bs[base + ${(3 * TN) / 4}u][comp] = b4.w;`
    : `let n4 = s % ${TN / 4}u; let kk = s / ${TN / 4}u;
      let gn = n0 + 4u * n4; let gk = k0 + kk;
      Bs[kk * ${TN / 4}u + n4] = vec4<${ft}>(load_b(bOff + gk * u.N + gn, ${inside(v.vecB, 'gn', 'u.N', 'gk < u.K')}));`;
  const loop = (slots: number, body: string) => `for (var s = tid; s < ${slots}u; s = s + ${THREADS}u) {
      ${body}
    }`;
  const fmas = Array.from({ length: RM / 4 }, (_, q) => {
    const rows = ['x', 'y', 'z', 'w'].map((c, j) => `acc[${4 * q + j}] = fma(vec4<f32>(a${q}.${c}), b, acc[${4 * q + j}]);`).join(' ');
    return `let a${q} = vec4<f32>(As[kk * ${TM / 4}u + ty * ${RM / 4}u + ${q}u]); ${rows}`;
  }).join('\n      ');
  const store = v.vecC
    ? `if (gm < u.M && gn < u.N) { c[(cOff + gm * u.N + gn) / 4u] = acc[i]; }`
    : `if (gm < u.M) {
        for (var j = 0u; j < 4u; j = j + 1u) { if (gn + j < u.N) { c[cOff + gm * u.N + gn + j] = acc[i][j]; } }
      }`;
  const arr = (vec: boolean) => (vec ? 'array<vec4<f32>>' : 'array<f32>');
  return /* wgsl */ `${v.f16 ? 'enable f16;\n' : ''}
struct U { M: u32, N: u32, K: u32, strideA: u32, strideB: u32, pad0: u32, pad1: u32, pad2: u32 };
@group(0) @binding(0) var<storage, read> a: ${arr(v.vecA)};
@group(0) @binding(1) var<storage, read> b: ${arr(v.vecB)};
@group(0) @binding(2) var<storage, read_write> c: ${arr(v.vecC)};
@group(0) @binding(3) var<uniform> u: U;
var<workgroup> As: array<vec4<${ft}>, ${slotsA}>;
var<workgroup> Bs: array<vec4<${ft}>, ${slotsB}>;
${load('a', v.vecA)}
${load('b', v.vecB)}
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let tx = lid.x; let ty = lid.y;
  let m0 = wg.y * ${TM}u; let n0 = wg.x * ${TN}u;
  let aOff = wg.z * u.strideA; let bOff = wg.z * u.strideB; let cOff = wg.z * u.M * u.N;
  var acc: array<vec4<f32>, ${RM}>;
  for (var k0 = 0u; k0 < u.K; k0 = k0 + ${TK}u) {
    ${loop(slotsA, loadA)}
    ${loop(slotsB, loadB)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      let b = vec4<f32>(Bs[kk * ${TN / 4}u + tx]);
      ${fmas}
    }
    workgroupBarrier();
  }
  let gn = n0 + 4u * tx;
  for (var i = 0u; i < ${RM}u; i = i + 1u) {
    let gm = m0 + ty * ${RM}u + i;
    ${store}
  }
}`.replace(/\n\s*\n/g, '\n');
}

type KernelArgs = { inputs: { a: tf.TensorInfo; b: tf.TensorInfo }; backend: unknown; attrs: { transposeA?: boolean; transposeB?: boolean } };

/** The product's shape per tfjs's BatchMatMul, or undefined when this kernel does not take it (tfjs's then does). */
export function matmulPlan(aShape: number[], bShape: number[], transA: boolean, transB: boolean):
  { shape: MatmulShape; outShape: number[]; strideA: number; strideB: number } | undefined {
  const ra = aShape.length, rb = bShape.length;
  if (ra < 2 || rb < 2) return undefined;
  const M = transA ? aShape[ra - 1] : aShape[ra - 2], K = transA ? aShape[ra - 2] : aShape[ra - 1];
  const Kb = transB ? bShape[rb - 1] : bShape[rb - 2], N = transB ? bShape[rb - 2] : bShape[rb - 1];
  if (K !== Kb) return undefined; // tfjs's kernel raises its own error message
  const outerA = aShape.slice(0, -2), outerB = bShape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1), batchB = outerB.reduce((x, y) => x * y, 1);
  let outer: number[];
  if (batchA === batchB && outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else return undefined;
  const batch = Math.max(batchA, batchB);
  if (M * N * K * batch === 0) return undefined;
  return { shape: { batch, M, N, K }, outShape: [...outer, M, N], strideA: batchA === 1 ? 0 : M * K, strideB: batchB === 1 ? 0 : K * N };
}

/** Runs C = op(A)·op(B) with our kernel on the active webgpu backend (tensors already checked by matmulPlan). */
export function runMatmul(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean, opts: { f16?: boolean; tile?: MatmulTile } = {}): tf.TensorInfo {
  const plan = matmulPlan(a.shape, b.shape, transA, transB);
  if (!plan) throw new Error(`webgpu matmul: shapes [${a.shape}]${transA ? 'ᵀ' : ''} · [${b.shape}]${transB ? 'ᵀ' : ''} are not supported by this kernel`);
  const { M, N, K, batch } = plan.shape;
  const tile = opts.tile ?? chooseTile(plan.shape);
  const v: Variant = {
    ...tile, transA, transB, f16: opts.f16 ?? false,
    vecA: (transA ? M : K) % 4 === 0, vecB: (transB ? K : N) % 4 === 0, vecC: N % 4 === 0,
  };
  const groups: [number, number, number] = [Math.ceil(N / tile.TN), Math.ceil(M / tile.TM), batch];
  return runWgsl(variantName(v), matmulWgsl(v), [a, b], [plan.outShape], uniforms([M, N, K, plan.strideA, plan.strideB, 0, 0, 0]), groups)[0];
}

let f16Matmul = false;

/** Whether the matmul stages its tiles in f16 (mixed precision); set by registerWebgpuMatmul. */
export function webgpuMatmulF16(): boolean {
  return f16Matmul;
}

/**
 * Registers our matmul as webgpu's BatchMatMul (idempotent per process; MIDTRAIN_WEBGPU_MATMUL=0 keeps
 * tfjs's, for comparisons). Shapes it does not take fall through to tfjs's kernel. `f16` turns on the
 * mixed-precision tiles (the device must have been created with shader-f16).
 */
export function registerWebgpuMatmul(opts: { f16?: boolean } = {}): void {
  f16Matmul = opts.f16 ?? false;
  if (process.env.MIDTRAIN_WEBGPU_MATMUL === '0') return;
  const current = tf.getKernel('BatchMatMul', 'webgpu') as unknown as { kernelFunc: (a: KernelArgs) => tf.TensorInfo; __midtrainMatmul?: boolean } | undefined;
  if (!current) throw new Error('webgpu: no BatchMatMul kernel registered (is @tensorflow/tfjs-backend-webgpu loaded?)');
  if (current.__midtrainMatmul) return;
  const tfjsMatmul = current.kernelFunc;
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs;
    const transA = args.attrs.transposeA ?? false, transB = args.attrs.transposeB ?? false;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !matmulPlan(a.shape, b.shape, transA, transB)) return tfjsMatmul(args);
    return runMatmul(a, b, transA, transB, { f16: f16Matmul });
  };
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'webgpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  (tf.getKernel('BatchMatMul', 'webgpu') as unknown as { __midtrainMatmul?: boolean }).__midtrainMatmul = true;
  tfjsKernels.set('BatchMatMul', tfjsMatmul);
}

const tfjsKernels = new Map<string, (a: KernelArgs) => tf.TensorInfo>();

/** tfjs's own BatchMatMul as registered before ours (for benchmarks and tests); undefined before registration. */
export function tfjsBatchMatMul(): ((a: KernelArgs) => tf.TensorInfo) | undefined {
  return tfjsKernels.get('BatchMatMul');
}
