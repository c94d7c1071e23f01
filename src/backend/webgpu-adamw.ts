// AdamW as one WGSL kernel per parameter on the webgpu backend, updating p, m and v in place.
//
// Why: tfjs runs AdamW as ~12 elementwise kernels per parameter (scale m, scale g, add, square, …), each
// with its own dispatch, bind group and uniform upload; on a 53-parameter tiny GPT that is ~40% of the
// step's 1,573 dispatches (bench/webgpu-profile.ts). Here: one dispatch per parameter, one uniform write
// per step, and no new tensors at all (the update is in place, so nothing is allocated or freed).
//
// Numerics: the same float32 operations in the same order as src/train/optim.ts's AdamW
// (m = m·β1 + g·(1−β1); v = v·β2 + g²·(1−β2); p = p·(1 − lr·wd) − (m / (√v/√bc2 + eps))·(lr/bc1)), with the
// constants computed in float64 on the CPU as tfjs does; test/webgpu/adamw.test.ts compares both.
//
// In place is safe because each variable is first given a buffer of its own (ownBuffer): a variable
// created from a tensor, or assigned one, shares that tensor's buffer until then.
//
// Gradient clipping by global norm runs here too when asked (`clip`): one sum-of-squares dispatch per
// gradient into a partials buffer, one dispatch that sums them into the norm and the clip coefficient
// (torch's clip_grad_norm_: min(1, max/(norm + 1e-6))), and the AdamW kernel scales g by that coefficient
// as it reads it. The host never reads the norm, so a step needs no readback (tfjs's ops took ~3 kernels per
// gradient for the norm, a readback, then one multiply per gradient).
//
// With dynamic loss scaling (mixed precision; src/train/loss-scale.ts) the gradients arrive multiplied by the
// scale S: the norm kernel divides the norm by S, folds 1/S into the coefficient, and when the norm is not
// finite (an overflow) sets a skip flag that the AdamW kernel obeys (p, m and v stay as they were) and backs
// S off; after enough clean steps it grows S. All of it on the device, in the same two dispatches.
import * as tf from '@tensorflow/tfjs';
import { webgpuDevice } from './webgpu';
import { pipeline, recordDispatch } from './webgpu-dispatch';
import { markStepBoundary } from './webgpu-bind-groups';
import { REDUCE_WG, REDUCTIONS, reductionKernel } from './webgpu-subgroups';

const WORKGROUP = REDUCE_WG;
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension: larger parameters use a 2-D grid. */
const MAX_GROUPS = 65535;

const SHADER = /* wgsl */ `
struct Step { b1: f32, omb1: f32, b2: f32, omb2: f32, sqrtBc2: f32, eps: f32, lrOverBc1: f32, wdFactor: f32 };
struct Param { n: u32, decay: u32, rowStride: u32, pad: u32 };
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<uniform> s: Step;
@group(0) @binding(5) var<uniform> q: Param;
// [global norm, coefficient, skip]: the coefficient scales the gradient (1 when not clipping); skip ≠ 0
// after a loss-scaled overflow: the step leaves everything as it was.
@group(0) @binding(6) var<storage, read> clip: array<f32>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * q.rowStride;
  if (i >= q.n || clip[2] != 0.0) { return; }
  let gi = g[i] * clip[1];
  let mi = m[i] * s.b1 + gi * s.omb1;
  let vi = v[i] * s.b2 + (gi * gi) * s.omb2;
  m[i] = mi;
  v[i] = vi;
  var pi = p[i];
  if (q.decay == 1u) { pi = pi * s.wdFactor; }
  let denom = sqrt(vi) / s.sqrtBc2 + s.eps;
  p[i] = pi - (mi / denom) * s.lrOverBc1;
}`;

/** Workgroups per gradient for the sum of squares (each loops over its share): partial sums per gradient. */
const NORM_GROUPS = 128;

const SUMSQ_SHADER = /* wgsl */ `
struct Part { n: u32, slot: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> q: Part;
${REDUCTIONS}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var s = 0.0;
  var i = wid.x * ${WORKGROUP}u + lid.x;
  let stride = nwg.x * ${WORKGROUP}u;
  loop {
    if (i >= q.n) { break; }
    let x = g[i];
    s = s + x * x;
    i = i + stride;
  }
  let total = wgSum(s, lid.x);
  if (lid.x == 0u) { partial[q.slot + wid.x] = total; }
}`;

const NORM_SHADER = /* wgsl */ `
struct Fin { total: u32, maxNorm: f32, scaling: u32, interval: u32, growth: f32, backoff: f32, minScale: f32, maxScale: f32 };
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> q: Fin;
// [loss scale, clean steps]: read and updated when q.scaling == 1 (a dummy otherwise).
@group(0) @binding(3) var<storage, read_write> ls: array<f32>;
${REDUCTIONS}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < q.total; i = i + ${WORKGROUP}u) { s = s + partial[i]; }
  let total = wgSum(s, lid.x);
  if (lid.x == 0u) {
    var inv = 1.0;
    if (q.scaling == 1u) { inv = 1.0 / ls[0]; }
    let norm = sqrt(total) * inv;
    // inf and NaN have all exponent bits set (a comparison like norm != norm may be folded away).
    let finite = (bitcast<u32>(norm) & 0x7f800000u) != 0x7f800000u;
    var coef = 1.0;
    if (q.maxNorm > 0.0) { coef = min(1.0, q.maxNorm / (norm + 1e-6)); }
    out[0] = norm;
    out[1] = coef * inv;
    out[2] = 0.0;
    if (q.scaling == 1u) {
      if (!finite) {
        out[1] = 0.0;
        out[2] = 1.0;
        ls[0] = max(ls[0] * q.backoff, q.minScale);
        ls[1] = 0.0;
      } else if (ls[1] + 1.0 >= f32(q.interval)) {
        ls[0] = min(ls[0] * q.growth, q.maxScale);
        ls[1] = 0.0;
      } else {
        ls[1] = ls[1] + 1.0;
      }
    }
  }
}`;

export interface FusedAdamWStep {
  beta1: number; beta2: number; eps: number; weightDecay: number; lr: number;
  /** Step number after increment (1 for the first update): bias corrections use it. */
  t: number;
  /** Workgroups per grid dimension before a second dimension is used (default 65535, WebGPU's minimum limit; tests lower it). */
  maxGroupsPerDim?: number;
  /**
   * Clip the gradients to this global L2 norm first, on the GPU (0 = measure the norm, do not clip). When
   * set, fusedAdamW returns a [3] tensor [norm before clipping, coefficient applied, skipped (1 after a loss-scaled overflow)]; read it when convenient.
   */
  clip?: number;
  /**
   * Dynamic loss scaling (needs `clip`): the gradients are the scaled loss's; `state` is the device tensor
   * [scale, clean steps] the norm kernel reads and updates (src/train/loss-scale.ts has the rule).
   */
  lossScale?: { state: tf.Variable; growthInterval: number; growth: number; backoff: number; min: number; max: number };
}

interface Gpu {
  device: {
    createShaderModule(d: object): unknown; createComputePipeline(d: object): { getBindGroupLayout(i: number): unknown };
    createBuffer(d: object): GpuBuffer; createBindGroup(d: object): unknown;
  };
  pipeline: { getBindGroupLayout(i: number): unknown };
  stepUniform: GpuBuffer;
  normUniform: GpuBuffer;
  /** [0, 1, 0]: the clip binding when not clipping. */
  noClip: GpuBuffer;
  /** Bound as the loss-scale state when there is none (the kernel does not touch it then). */
  noScale: GpuBuffer;
  /** Per-gradient partial sums of squares (grown as needed). */
  partials: { buf: GpuBuffer; slots: number } | undefined;
  paramUniforms: WeakMap<object, { buf: GpuBuffer; gx: number }>;
  sumsqUniforms: WeakMap<object, { buf: GpuBuffer; slot: number; n: number }>;
}
interface GpuBuffer { destroy(): void }
interface Pipeline { getBindGroupLayout(i: number): unknown }
interface Backend {
  tensorMap: { get(id: object): { resource: unknown; values: unknown } };
  uploadToGPU(id: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandQueueOwnedIds: WeakSet<object>;
  queue: { writeBuffer(b: unknown, o: number, d: ArrayBufferView): void };
}

let gpu: Gpu | undefined;
let gpuDevice: unknown;
/** The dataId each variable owned exclusively when we last checked; a different one means re-own. */
const owned = new WeakMap<tf.Variable, object>();

/** True when the fused in-place AdamW can run: the webgpu backend is active on a Dawn device. */
export function fusedAdamWAvailable(): boolean {
  return tf.getBackend() === 'webgpu' && webgpuDevice() !== undefined && process.env.MIDTRAIN_WEBGPU_FUSED_ADAMW !== '0';
}

function setup(): Gpu {
  const device = webgpuDevice() as unknown as Gpu['device'];
  if (gpu && gpuDevice === device) return gpu;
  const compile = (code: string): Pipeline =>
    device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const backend = tf.backend() as unknown as Backend;
  const noClip = device.createBuffer({ size: 16, usage: STORAGE | COPY_DST });
  backend.queue.writeBuffer(noClip, 0, Float32Array.from([0, 1, 0, 0]));
  const noScale = device.createBuffer({ size: 8, usage: STORAGE | COPY_DST });
  backend.queue.writeBuffer(noScale, 0, Float32Array.from([1, 0]));
  gpu = {
    device, pipeline: compile(SHADER),
    stepUniform: device.createBuffer({ size: 32, usage: UNIFORM | COPY_DST }),
    normUniform: device.createBuffer({ size: 32, usage: UNIFORM | COPY_DST }),
    noClip, noScale, partials: undefined, paramUniforms: new WeakMap(), sumsqUniforms: new WeakMap(),
  };
  gpuDevice = device;
  return gpu;
}

/** Gives v a GPU buffer no other tensor shares (one copy, the first time or after an assign). */
function ownBuffer(v: tf.Variable, backend: Backend): void {
  if (owned.get(v) === v.dataId) return;
  const copy = tf.tidy(() => tf.add(v, tf.scalar(0, v.dtype)));
  v.assign(copy);
  copy.dispose();
  backend.uploadToGPU(v.dataId);
  owned.set(v, v.dataId);
}

function bufferOf(backend: Backend, t: tf.Tensor): unknown {
  return backend.tensorMap.get(t.dataId).resource;
}

/**
 * The global L2 norm of all gradients and the clip coefficient, computed on the GPU into a new [3] tensor
 * [norm, min(1, maxNorm / (norm + 1e-6)), skip] (coefficient 1 when maxNorm ≤ 0). Partial sums are added in
 * a fixed order, so the result is deterministic. With loss scaling the norm is the unscaled one, 1/S is
 * folded into the coefficient, and an overflow sets skip and a zero coefficient (the header says more).
 */
function globalNorm(g: Gpu, backend: Backend, params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, maxNorm: number, lossScale?: FusedAdamWStep['lossScale']): tf.Tensor {
  const names = Object.keys(params);
  const groupsOf = (n: number) => Math.max(1, Math.min(NORM_GROUPS, Math.ceil(n / WORKGROUP)));
  const slots = names.reduce((a, k) => a + groupsOf(params[k].size), 0);
  if (!g.partials || g.partials.slots < slots) {
    g.partials?.buf.destroy();
    g.partials = { buf: g.device.createBuffer({ size: 4 * slots, usage: STORAGE }), slots };
  }
  const partials = g.partials.buf;
  // Compiled once per device and reduction mode (subgroups or the workgroup tree).
  const sumsq = pipeline(g.device as never, ...reductionKernel('midtrain-grad-sumsq', SUMSQ_SHADER));
  const norm = pipeline(g.device as never, ...reductionKernel('midtrain-grad-norm', NORM_SHADER));
  const layout = sumsq.getBindGroupLayout(0);
  let slot = 0;
  for (const name of names) {
    const grad = grads[name];
    if (!grad) throw new Error(`fusedAdamW: no gradient for ${name}`);
    backend.uploadToGPU(grad.dataId);
    const n = grad.size, groups = groupsOf(n);
    let u = g.sumsqUniforms.get(params[name]);
    if (!u || u.slot !== slot || u.n !== n) {
      u?.buf.destroy();
      u = { buf: g.device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST }), slot, n };
      backend.queue.writeBuffer(u.buf, 0, Uint32Array.from([n, slot, 0, 0]));
      g.sumsqUniforms.set(params[name], u);
    }
    backend.commandQueueOwnedIds.add(grad.dataId);
    recordDispatch('midtrain-grad-sumsq', sumsq, g.device.createBindGroup({
      layout,
      entries: [{ binding: 0, resource: { buffer: bufferOf(backend, grad) } }, { binding: 1, resource: { buffer: partials } }, { binding: 2, resource: { buffer: u.buf } }],
    }), [groups, 1]);
    slot += groups;
  }
  const out = tf.zeros([3]);
  backend.uploadToGPU(out.dataId);
  const fin = new ArrayBuffer(32);
  const u32 = new Uint32Array(fin), f32 = new Float32Array(fin);
  u32[0] = slots;
  f32[1] = maxNorm;
  if (lossScale) {
    ownBuffer(lossScale.state, backend);
    u32[2] = 1;
    u32[3] = lossScale.growthInterval;
    [f32[4], f32[5], f32[6], f32[7]] = [lossScale.growth, lossScale.backoff, lossScale.min, lossScale.max];
    backend.commandQueueOwnedIds.add(lossScale.state.dataId);
  }
  backend.queue.writeBuffer(g.normUniform, 0, new Uint8Array(fin));
  backend.commandQueueOwnedIds.add(out.dataId);
  recordDispatch('midtrain-grad-norm', norm, g.device.createBindGroup({
    layout: norm.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: partials } }, { binding: 1, resource: { buffer: bufferOf(backend, out) } }, { binding: 2, resource: { buffer: g.normUniform } },
      { binding: 3, resource: { buffer: lossScale ? bufferOf(backend, lossScale.state) : g.noScale } },
    ],
  }), [1, 1]);
  backend.tensorMap.get(out.dataId).values = null;
  if (lossScale) backend.tensorMap.get(lossScale.state.dataId).values = null; // updated in place: drop any host copy
  return out;
}

/** The step uniform of the AdamW kernel for step `o` (its lr and bias corrections; a replayed step writes it too). */
export function adamwStepUniform(o: Pick<FusedAdamWStep, 'beta1' | 'beta2' | 'eps' | 'weightDecay' | 'lr' | 't'>): Float32Array {
  const bc1 = 1 - Math.pow(o.beta1, o.t);
  const sqrtBc2 = Math.sqrt(1 - Math.pow(o.beta2, o.t));
  // Float64 here, rounded to float32 once — as tfjs does with the JS numbers in the op-by-op version.
  return Float32Array.from([o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, sqrtBc2, o.eps, o.lr / bc1, 1 - o.lr * o.weightDecay]);
}

/** The GPU buffer holding that uniform on the active device (undefined before the first fused update). */
export function adamwStepUniformBuffer(): object | undefined {
  return gpu && gpuDevice === webgpuDevice() ? (gpu.stepUniform as object) : undefined;
}

/**
 * One AdamW update of every parameter, in place: p, m and v are tf.Variables of the same shapes; g the
 * gradients. `decays(name)` says which parameters get weight decay. With `o.clip` set, the gradients are
 * first clipped to that global norm on the GPU and the [norm, coefficient, skip] tensor is returned (the caller
 * owns it); otherwise the gradients are used as they are and nothing is returned.
 */
export function fusedAdamW(
  params: Record<string, tf.Variable>, m: Record<string, tf.Variable>, v: Record<string, tf.Variable>,
  grads: Record<string, tf.Tensor>, o: FusedAdamWStep, decays: (name: string) => boolean,
): tf.Tensor | undefined {
  const g = setup();
  const backend = tf.backend() as unknown as Backend;
  if (o.lossScale && o.clip === undefined) throw new Error('fusedAdamW: loss scaling needs clip (0 = measure the norm only)');
  const norm = o.clip === undefined ? undefined : globalNorm(g, backend, params, grads, o.clip, o.lossScale);
  const clipBuffer = norm ? bufferOf(backend, norm) : g.noClip;
  backend.queue.writeBuffer(g.stepUniform, 0, adamwStepUniform(o));
  const layout = g.pipeline.getBindGroupLayout(0);
  for (const [name, p] of Object.entries(params)) {
    const grad = grads[name];
    if (!grad) throw new Error(`fusedAdamW: no gradient for ${name}`);
    for (const x of [p, m[name], v[name]]) ownBuffer(x, backend);
    backend.uploadToGPU(grad.dataId);
    const n = p.size;
    const groups = Math.ceil(n / WORKGROUP);
    const maxGroups = o.maxGroupsPerDim ?? MAX_GROUPS;
    const gx = Math.min(groups, maxGroups), gy = Math.ceil(groups / maxGroups);
    let cached = g.paramUniforms.get(p);
    if (!cached || cached.gx !== gx) {
      cached?.buf.destroy();
      cached = { buf: g.device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST }), gx };
      backend.queue.writeBuffer(cached.buf, 0, Uint32Array.from([n, decays(name) ? 1 : 0, gx * WORKGROUP, 0]));
      g.paramUniforms.set(p, cached);
    }
    const res = (t: tf.Tensor) => ({ buffer: bufferOf(backend, t) });
    // Keeps the gradient's buffer out of the free pool until the submit (a queue.writeBuffer into a
    // reused buffer would otherwise land before this dispatch reads it).
    for (const t of [p, m[name], v[name], grad]) backend.commandQueueOwnedIds.add(t.dataId);
    recordDispatch('midtrain-adamw', g.pipeline, g.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: res(p) }, { binding: 1, resource: res(m[name]) }, { binding: 2, resource: res(v[name]) },
        { binding: 3, resource: res(grad) }, { binding: 4, resource: { buffer: g.stepUniform } }, { binding: 5, resource: { buffer: cached.buf } },
        { binding: 6, resource: { buffer: clipBuffer } },
      ],
    }), [gx, gy]);
    // A read (data()/dataSync()) caches the values on the CPU and later reads return that copy; the GPU
    // buffer has just changed under it, so drop the copy.
    for (const t of [p, m[name], v[name]]) backend.tensorMap.get(t.dataId).values = null;
  }
  // Submit now: the next step's uniform writes must not overtake these dispatches. (The last dispatch may
  // have submitted already, leaving no encoder: tfjs's submitQueue needs one.)
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  markStepBoundary(); // the next step's buffers follow this one's (webgpu-bind-groups.ts)
  return norm;
}

// GPUBufferUsage bits (WebGPU spec constants).
const COPY_DST = 0x0008, UNIFORM = 0x0040, STORAGE = 0x0080;
