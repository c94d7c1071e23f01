// Fused training kernels for the webgpu backend, in WGSL, under the kernel names the model already routes
// through src/backend/caps.ts (NATIVE_FUSED_KERNELS): registering them for 'webgpu' makes
// hasFusedLayerNorm() true there, and src/model/ops.ts then calls them with no change of its own.
//
// Layer norm: tfjs runs it as ~9 kernels forward and ~14 backward (means, centring, rsqrt, products,
// the column sums of dγ and dβ), each with a dispatch, bind group, uniform buffer and a full-size
// intermediate. Here: 1 dispatch forward (one workgroup per row), 3 backward (a row pass for dx, then
// dγ/dβ as partial column sums over row blocks and a final sum).
//
// Cross-entropy: tfjs builds a one-hot [N, V] (V = 50304 for Pythia: 1.6 GB at B 16 × T 512), then
// logsumexp, products and sums, and softmax again backward. Here: 2 dispatches forward (a row pass for
// logsumexp and each row's loss, a one-workgroup mean), 1 backward, and no one-hot.
//
// Kernel contract (the native backend's, src/backend/native-fused.ts, so one gradient serves both):
//   MidtrainLayerNorm      {x [..., C], gamma [C], beta [C]}, {eps} → [y, mean [...], rstd [...]]
//   MidtrainLayerNormGrad  {x, gamma, mean, rstd, dy} → [dx, dgamma, dbeta]
//   MidtrainCrossEntropy   {logits [N, V], labels int32 [N] (< 0: left out)} → [mean loss [], lse [N], 1/count []]
//   MidtrainCrossEntropyGrad {logits, labels, lse, invCount, dy} → dlogits
//   MidtrainCausalAttention     {q, k, v [..., T, D]}, {scale} → [out [..., T, D], lse [..., T]]
//   MidtrainCausalAttentionGrad {q, k, v, out, lse, dy}, {scale} → [dq, dk, dv]
//   MidtrainGelu {x} → y;  MidtrainGeluGrad {x, dy} → dx                 (exact erf GELU, 1 dispatch each way)
//   MidtrainRotary {x [..., T, hs], cos [T, r], sin [T, r]} → y;  MidtrainRotaryGrad {x: dy, cos, sin} → dx
//     (rotate-half rotary on the first r dims, 1 dispatch each way instead of slices, neg, concat, pads)
//
// Attention keeps tfjs's matmuls (q·kᵀ, P·v and the four backward ones) and fuses what sits between them:
// scale, causal mask and softmax forward (1 dispatch per call instead of ~7, and the row logsumexp saved
// for backward), the probabilities from that logsumexp and the softmax gradient backward (2 instead of ~8).
// The gradient is registered here too when the native backend has not registered it (it only does when
// it starts, and a GPU machine picks webgpu first).
//
// The row kernels reduce with wgSum / wgMax (src/backend/webgpu-subgroups.ts: subgroup operations where the
// device's probe passed, else a tree in workgroup memory); reductionKernel() names each pipeline by its mode.
import * as tf from '@tensorflow/tfjs';
import { NATIVE_FUSED_KERNELS } from './caps';
import { FUSED_GRAD_KERNELS, registerFusedGradients } from './fused-gradients';
import { grid, runWgsl as run, uniforms } from './webgpu-dispatch';
import { REDUCE_WG as WG, REDUCTIONS, reductionKernel } from './webgpu-subgroups';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const LN_GRAD = FUSED_GRAD_KERNELS.layerNorm;
const CE_GRAD = FUSED_GRAD_KERNELS.crossEntropy;
const ATT_GRAD = FUSED_GRAD_KERNELS.attention;
const GELU_GRAD = FUSED_GRAD_KERNELS.gelu;
const ROT_GRAD = FUSED_GRAD_KERNELS.rotary;
/** Rows per workgroup in the dγ/dβ partial sums (the final pass sums rows/LN_BLOCK partials per column). */
const LN_BLOCK = 128;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const LN_FWD = /* wgsl */ `
struct U { rows: u32, C: u32, nx: u32, eps: f32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * u.nx;
  if (row >= u.rows) { return; }
  let base = row * u.C;
  let n = f32(u.C);
  var s = 0.0;
  for (var i = li; i < u.C; i = i + ${WG}u) { s = s + x[base + i]; }
  let mu = wgSum(s, li) / n;
  var s2 = 0.0;
  for (var i = li; i < u.C; i = i + ${WG}u) { let d = x[base + i] - mu; s2 = s2 + d * d; }
  let rs = inverseSqrt(wgSum(s2, li) / n + u.eps);
  for (var i = li; i < u.C; i = i + ${WG}u) { y[base + i] = ((x[base + i] - mu) * rs) * gamma[i] + beta[i]; }
  if (li == 0u) { mean[row] = mu; rstd[row] = rs; }
}`;

// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = γ·dy, x̂ = (x − mean)·rstd — one workgroup per row.
const LN_BWD_DX = /* wgsl */ `
struct U { rows: u32, C: u32, nx: u32, pad: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * u.nx;
  if (row >= u.rows) { return; }
  let base = row * u.C;
  let n = f32(u.C);
  let mu = mean[row];
  let rs = rstd[row];
  var a = 0.0;
  var b = 0.0;
  for (var i = li; i < u.C; i = i + ${WG}u) {
    let g = dy[base + i] * gamma[i];
    a = a + g;
    b = b + g * ((x[base + i] - mu) * rs);
  }
  let ma = wgSum(a, li) / n;
  let mb = wgSum(b, li) / n;
  for (var i = li; i < u.C; i = i + ${WG}u) {
    let g = dy[base + i] * gamma[i];
    dx[base + i] = rs * ((g - ma) - ((x[base + i] - mu) * rs) * mb);
  }
}`;

// Partial column sums of dy·x̂ and dy over blocks of ${LN_BLOCK} rows: partial [blocks, 2C].
const LN_BWD_PARTIAL = /* wgsl */ `
struct U { rows: u32, C: u32, colGroups: u32, pad: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let flat = wg.x + wg.y * 65535u;
  let block = flat / u.colGroups;
  let c = (flat % u.colGroups) * ${WG}u + li;
  if (c >= u.C) { return; }
  let r0 = block * ${LN_BLOCK}u;
  let r1 = min(r0 + ${LN_BLOCK}u, u.rows);
  var sg = 0.0;
  var sb = 0.0;
  for (var r = r0; r < r1; r = r + 1u) {
    let d = dy[r * u.C + c];
    sg = sg + d * ((x[r * u.C + c] - mean[r]) * rstd[r]);
    sb = sb + d;
  }
  partial[block * 2u * u.C + c] = sg;
  partial[block * 2u * u.C + u.C + c] = sb;
}`;

const LN_BWD_FINAL = /* wgsl */ `
struct U { blocks: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let c = id.x;
  if (c >= u.C) { return; }
  var sg = 0.0;
  var sb = 0.0;
  for (var k = 0u; k < u.blocks; k = k + 1u) {
    sg = sg + partial[k * 2u * u.C + c];
    sb = sb + partial[k * 2u * u.C + u.C + c];
  }
  dgamma[c] = sg;
  dbeta[c] = sb;
}`;

const CE_ROWS = /* wgsl */ `
struct U { N: u32, V: u32, nx: u32, pad: u32 };
@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * u.nx;
  if (row >= u.N) { return; }
  let base = row * u.V;
  var m = -3.4e38;
  for (var i = li; i < u.V; i = i + ${WG}u) { m = max(m, z[base + i]); }
  let rowMax = wgMax(m, li);
  var s = 0.0;
  for (var i = li; i < u.V; i = i + ${WG}u) { s = s + exp(z[base + i] - rowMax); }
  let l = rowMax + log(wgSum(s, li));
  if (li == 0u) {
    lse[row] = l;
    let t = labels[row];
    rowLoss[row] = select(0.0, l - z[base + u32(max(t, 0))], t >= 0);
  }
}`;

// Mean over the rows whose label is >= 0, in one workgroup: out = [loss, 1/count] (0, 0 when none count).
const CE_MEAN = /* wgsl */ `
struct U { N: u32, pad0: u32, pad1: u32, pad2: u32 };
@group(0) @binding(0) var<storage, read> rowLoss: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> invCount: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  var c = 0.0;
  for (var i = li; i < u.N; i = i + ${WG}u) {
    s = s + rowLoss[i];
    c = c + select(0.0, 1.0, labels[i] >= 0);
  }
  let total = wgSum(s, li);
  let count = wgSum(c, li);
  if (li == 0u) {
    let inv = select(0.0, 1.0 / count, count > 0.0);
    loss[0] = total * inv;
    invCount[0] = inv;
  }
}`;

// dlogits = (label ≥ 0) · dy · (1/count) · (softmax(z) − onehot(label)), softmax from the saved lse.
const CE_BWD = /* wgsl */ `
struct U { N: u32, V: u32, nx: u32, pad: u32 };
@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> invCount: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * u.nx) * ${WG}u + li;
  if (i >= u.N * u.V) { return; }
  let row = i / u.V;
  let col = i % u.V;
  let t = labels[row];
  let scale = select(0.0, dy[0] * invCount[0], t >= 0);
  let onehot = select(0.0, 1.0, i32(col) == t);
  dz[i] = (exp(z[i] - lse[row]) - onehot) * scale;
}`;

function crossEntropyForward({ inputs }: KernelArgs): TensorInfo[] {
  const { logits, labels } = inputs as { logits: TensorInfo; labels: TensorInfo };
  if (logits.dtype !== 'float32') throw new Error(`fusedCrossEntropy (webgpu): logits must be float32, got ${logits.dtype}`);
  if (labels.dtype !== 'int32') throw new Error(`fusedCrossEntropy (webgpu): labels must be int32, got ${labels.dtype}`);
  const V = logits.shape[logits.shape.length - 1], N = size(logits.shape) / V;
  if (size(labels.shape) !== N) throw new Error(`fusedCrossEntropy (webgpu): labels [${labels.shape}] must have one entry per row of logits [${logits.shape}]`);
  const g = grid(N);
  const [lse, rowLoss] = run(...reductionKernel('midtrain-ce-rows', CE_ROWS), [logits, labels], [[N], [N]], uniforms([N, V, g[0], 0]), g);
  const [loss, invCount] = run(...reductionKernel('midtrain-ce-mean', CE_MEAN), [rowLoss, labels], [[], []], uniforms([N, 0, 0, 0]), [1, 1]);
  (tf.backend() as unknown as { disposeData(id: object): void }).disposeData(rowLoss.dataId);
  return [loss, lse, invCount];
}

function crossEntropyBackward({ inputs }: KernelArgs): TensorInfo {
  const { logits, labels, lse, invCount, dy } = inputs as Record<string, TensorInfo>;
  const V = logits.shape[logits.shape.length - 1], N = size(logits.shape) / V;
  if (N * V >= 2 ** 32) throw new Error(`fusedCrossEntropy (webgpu): ${N}×${V} logits exceed 32-bit indexing`);
  const g = grid(Math.ceil((N * V) / WG));
  return run('midtrain-ce-bwd', CE_BWD, [logits, labels, lse, invCount, dy], [logits.shape], uniforms([N, V, g[0], 0]), g)[0];
}


// Causal softmax of scale·S per row (row r of [R, T] is query i = r mod T; keys j > i are masked):
// P and the row's logsumexp.
const ATT_SOFTMAX = /* wgsl */ `
struct U { R: u32, T: u32, nx: u32, scale: f32 };
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * u.nx;
  if (row >= u.R) { return; }
  let q = row % u.T;
  let base = row * u.T;
  var m = -3.4e38;
  for (var j = li; j <= q; j = j + ${WG}u) { m = max(m, S[base + j] * u.scale); }
  let rowMax = wgMax(m, li);
  var s = 0.0;
  for (var j = li; j <= q; j = j + ${WG}u) { s = s + exp(S[base + j] * u.scale - rowMax); }
  let l = rowMax + log(wgSum(s, li));
  for (var j = li; j < u.T; j = j + ${WG}u) { P[base + j] = select(0.0, exp(S[base + j] * u.scale - l), j <= q); }
  if (li == 0u) { lse[row] = l; }
}`;

// P again in backward, from S and the saved logsumexp (elementwise).
const ATT_P = /* wgsl */ `
struct U { R: u32, T: u32, nx: u32, scale: f32 };
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read_write> P: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.x + wg.y * u.nx) * ${WG}u + li;
  if (idx >= u.R * u.T) { return; }
  let row = idx / u.T;
  let j = idx % u.T;
  P[idx] = select(0.0, exp(S[idx] * u.scale - lse[row]), j <= row % u.T);
}`;

// Softmax gradient per row, with the score scale: dS = scale · P ∘ (dP − Σⱼ P∘dP).
const ATT_DS = /* wgsl */ `
struct U { R: u32, T: u32, nx: u32, scale: f32 };
@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> dP: array<f32>;
@group(0) @binding(2) var<storage, read_write> dS: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * u.nx;
  if (row >= u.R) { return; }
  let base = row * u.T;
  var s = 0.0;
  for (var j = li; j < u.T; j = j + ${WG}u) { s = s + P[base + j] * dP[base + j]; }
  let d = wgSum(s, li);
  for (var j = li; j < u.T; j = j + ${WG}u) { dS[base + j] = u.scale * (P[base + j] * (dP[base + j] - d)); }
}`;

type KernelFunc = (a: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => TensorInfo;

/** tfjs's own webgpu batched matmul (any rank ≥ 2), called as a kernel function: returns a new TensorInfo. */
function matmul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const k = tf.getKernel('BatchMatMul', 'webgpu');
  if (!k) throw new Error('webgpu: no BatchMatMul kernel registered');
  return (k.kernelFunc as unknown as KernelFunc)({ inputs: { a, b }, backend: tf.backend(), attrs: { transposeA, transposeB } });
}

function dispose(...ts: TensorInfo[]): void {
  const b = tf.backend() as unknown as { disposeData(id: object): void };
  for (const t of ts) b.disposeData(t.dataId);
}

function attentionShapes(q: TensorInfo, k: TensorInfo, v: TensorInfo): { T: number; R: number } {
  for (const [n, t] of Object.entries({ q, k, v })) {
    if (t.dtype !== 'float32') throw new Error(`fusedCausalAttention (webgpu): ${n} must be float32, got ${t.dtype}`);
  }
  if (!tf.util.arraysEqual(q.shape, k.shape) || !tf.util.arraysEqual(q.shape, v.shape) || q.shape.length < 2) {
    throw new Error(`fusedCausalAttention (webgpu): q, k, v must share one shape [..., T, D]; got [${q.shape}], [${k.shape}], [${v.shape}]`);
  }
  return { T: q.shape[q.shape.length - 2], R: size(q.shape.slice(0, -1)) };
}

function attentionForward({ inputs, attrs }: KernelArgs): TensorInfo[] {
  const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const { T, R } = attentionShapes(q, k, v);
  const scale = Number((attrs as { scale: number }).scale);
  const S = matmul(q, k, false, true);
  const g = grid(R);
  const [P, lse] = run(...reductionKernel('midtrain-att-softmax', ATT_SOFTMAX), [S], [S.shape, q.shape.slice(0, -1)], uniforms([R, T, g[0]], [scale]), g);
  const out = matmul(P, v, false, false);
  dispose(S, P);
  return [out, lse];
}

function attentionBackward({ inputs, attrs }: KernelArgs): TensorInfo[] {
  const { q, k, v, lse, dy } = inputs as Record<string, TensorInfo>;
  const { T, R } = attentionShapes(q, k, v);
  if (R * T >= 2 ** 32) throw new Error(`fusedCausalAttention (webgpu): ${R}×${T} scores exceed 32-bit indexing`);
  const scale = Number((attrs as { scale: number }).scale);
  const S = matmul(q, k, false, true);
  const ge = grid(Math.ceil((R * T) / WG));
  const [P] = run('midtrain-att-p', ATT_P, [S, lse], [S.shape], uniforms([R, T, ge[0]], [scale]), ge);
  const dv = matmul(P, dy, true, false);
  const dP = matmul(dy, v, false, true);
  const g = grid(R);
  const [dS] = run(...reductionKernel('midtrain-att-ds', ATT_DS), [P, dP], [S.shape], uniforms([R, T, g[0]], [scale]), g);
  const dq = matmul(dS, k, false, false);
  const dk = matmul(dS, q, true, false);
  dispose(S, P, dP, dS);
  return [dq, dk, dv];
}


// erf as tfjs's webgpu backend computes it (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), so the fused
// GELU matches the op-by-op one.
const ERF = /* wgsl */ `
fn erf_(a: f32) -> f32 {
  let t = 1.0 / (1.0 + ${tf.backend_util.ERF_P} * abs(a));
  return sign(a) * (1.0 - (((((${tf.backend_util.ERF_A5} * t + ${tf.backend_util.ERF_A4}) * t) + ${tf.backend_util.ERF_A3}) * t
    + ${tf.backend_util.ERF_A2}) * t + ${tf.backend_util.ERF_A1}) * t * exp(-a * a));
}`;

// y = x·Φ(x) forward; dx = dy·(Φ(x) + x·φ(x)) backward (mode 1), elementwise.
const GELU = /* wgsl */ `
struct U { n: u32, nx: u32, mode: u32, pad: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
${ERF}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * u.nx) * ${WG}u + li;
  if (i >= u.n) { return; }
  let v = x[i];
  let cdf = 0.5 * (1.0 + erf_(v * ${Math.SQRT1_2}));
  if (u.mode == 0u) { y[i] = v * cdf; }
  else { y[i] = dy[i] * (cdf + v * (${1 / Math.sqrt(2 * Math.PI)} * exp(-0.5 * v * v))); }
}`;

// Rotate-half rotary on the first r dims of rows of length hs (row's position t = row mod T); mode 1 is
// the adjoint (the gradient): the same rotation with the sine's sign flipped.
const ROTARY = /* wgsl */ `
struct U { n: u32, nx: u32, T: u32, hs: u32, r: u32, mode: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cosT: array<f32>;
@group(0) @binding(2) var<storage, read> sinT: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * u.nx) * ${WG}u + li;
  if (i >= u.n) { return; }
  let d = i % u.hs;
  if (d >= u.r) { y[i] = x[i]; return; }
  let t = (i / u.hs) % u.T;
  let h = u.r / 2u;
  let c = cosT[t * u.r + d];
  if (d < h) {
    let j = d + h;
    // forward: x_d·cos_d − x_{d+h}·sin_d; adjoint: dy_d·cos_d + dy_{d+h}·sin_{d+h}
    y[i] = select(x[i] * c - x[i + h] * sinT[t * u.r + d], x[i] * c + x[i + h] * sinT[t * u.r + j], u.mode == 1u);
  } else {
    let j = d - h;
    // forward: x_d·cos_d + x_{d−h}·sin_d; adjoint: dy_d·cos_d − dy_{d−h}·sin_{d−h}
    y[i] = select(x[i] * c + x[i - h] * sinT[t * u.r + d], x[i] * c - x[i - h] * sinT[t * u.r + j], u.mode == 1u);
  }
}`;

function geluKernel(grad: boolean) {
  return ({ inputs }: KernelArgs): TensorInfo => {
    const { x, dy } = inputs as { x: TensorInfo; dy?: TensorInfo };
    if (x.dtype !== 'float32') throw new Error(`fusedGelu (webgpu): x must be float32, got ${x.dtype}`);
    const n = size(x.shape), g = grid(Math.ceil(n / WG));
    return run(grad ? 'midtrain-gelu-bwd' : 'midtrain-gelu', GELU, [x, dy ?? x], [x.shape], uniforms([n, g[0], grad ? 1 : 0, 0]), g)[0];
  };
}

function rotaryKernel(grad: boolean) {
  return ({ inputs }: KernelArgs): TensorInfo => {
    const { x, cos, sin } = inputs as { x: TensorInfo; cos: TensorInfo; sin: TensorInfo };
    const rank = x.shape.length, T = x.shape[rank - 2], hs = x.shape[rank - 1], r = cos.shape[cos.shape.length - 1];
    if (rank < 2 || cos.shape.length !== 2 || cos.shape[0] !== T || !tf.util.arraysEqual(cos.shape, sin.shape) || r > hs || r % 2 !== 0) {
      throw new Error(`fusedRotary (webgpu): x [${x.shape}] needs cos and sin of shape [${T}, r] with even r <= ${hs}; got [${cos.shape}] and [${sin.shape}]`);
    }
    const n = size(x.shape), g = grid(Math.ceil(n / WG));
    return run(grad ? 'midtrain-rotary-bwd' : 'midtrain-rotary', ROTARY, [x, cos, sin], [x.shape], uniforms([n, g[0], T, hs, r, grad ? 1 : 0, 0, 0]), g)[0];
  };
}


function layerNormForward({ inputs, attrs }: KernelArgs): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  for (const [k, t] of Object.entries({ x, gamma, beta })) {
    if (t.dtype !== 'float32') throw new Error(`fusedLayerNorm (webgpu): input ${k} must be float32, got ${t.dtype}`);
  }
  const C = x.shape[x.shape.length - 1];
  if (size(gamma.shape) !== C || size(beta.shape) !== C) {
    throw new Error(`fusedLayerNorm (webgpu): gamma [${gamma.shape}] and beta [${beta.shape}] must have ${C} elements (last dim of x [${x.shape}])`);
  }
  const rows = size(x.shape) / C;
  const g = grid(rows);
  const eps = Number((attrs as { eps: number }).eps);
  return run(...reductionKernel('midtrain-ln-fwd', LN_FWD), [x, gamma, beta], [x.shape, x.shape.slice(0, -1), x.shape.slice(0, -1)], uniforms([rows, C, g[0]], [eps]), g);
}

function layerNormBackward({ inputs }: KernelArgs): TensorInfo[] {
  const { x, gamma, mean, rstd, dy } = inputs as Record<string, TensorInfo>;
  const C = x.shape[x.shape.length - 1], rows = size(x.shape) / C;
  const g = grid(rows);
  const [dx] = run(...reductionKernel('midtrain-ln-bwd-dx', LN_BWD_DX), [x, gamma, mean, rstd, dy], [x.shape], uniforms([rows, C, g[0], 0]), g);
  const blocks = Math.ceil(rows / LN_BLOCK), colGroups = Math.ceil(C / WG);
  const [partial] = run('midtrain-ln-bwd-partial', LN_BWD_PARTIAL, [x, mean, rstd, dy], [[blocks, 2 * C]], uniforms([rows, C, colGroups, 0]), grid(blocks * colGroups));
  const [dgamma, dbeta] = run('midtrain-ln-bwd-final', LN_BWD_FINAL, [partial], [gamma.shape, gamma.shape], uniforms([blocks, C, 0, 0]), [Math.ceil(C / WG), 1]);
  (tf.backend() as unknown as { disposeData(id: object): void }).disposeData(partial.dataId);
  return [dx, dgamma, dbeta];
}


/**
 * Registers the fused webgpu kernels (idempotent). MIDTRAIN_WEBGPU_FUSED=0 leaves them out, so the
 * model falls back to its tf-op formulation (for comparisons).
 */
export function registerWebgpuFusedKernels(): void {
  if (process.env.MIDTRAIN_WEBGPU_FUSED === '0') return;
  if (tf.getKernel(NATIVE_FUSED_KERNELS.layerNorm, 'webgpu')) return;
  tf.registerKernel({ kernelName: NATIVE_FUSED_KERNELS.layerNorm, backendName: 'webgpu', kernelFunc: layerNormForward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: LN_GRAD, backendName: 'webgpu', kernelFunc: layerNormBackward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: NATIVE_FUSED_KERNELS.crossEntropy, backendName: 'webgpu', kernelFunc: crossEntropyForward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: CE_GRAD, backendName: 'webgpu', kernelFunc: crossEntropyBackward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: NATIVE_FUSED_KERNELS.attention, backendName: 'webgpu', kernelFunc: attentionForward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: ATT_GRAD, backendName: 'webgpu', kernelFunc: attentionBackward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: NATIVE_FUSED_KERNELS.gelu, backendName: 'webgpu', kernelFunc: geluKernel(false) as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: GELU_GRAD, backendName: 'webgpu', kernelFunc: geluKernel(true) as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: NATIVE_FUSED_KERNELS.rotary, backendName: 'webgpu', kernelFunc: rotaryKernel(false) as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: ROT_GRAD, backendName: 'webgpu', kernelFunc: rotaryKernel(true) as unknown as tf.KernelFunc });
  registerFusedGradients();
}

