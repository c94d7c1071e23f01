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
import * as tf from '@tensorflow/tfjs';
import { webgpuDevice } from './webgpu';

const WORKGROUP = 256;
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
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * q.rowStride;
  if (i >= q.n) { return; }
  let gi = g[i];
  let mi = m[i] * s.b1 + gi * s.omb1;
  let vi = v[i] * s.b2 + (gi * gi) * s.omb2;
  m[i] = mi;
  v[i] = vi;
  var pi = p[i];
  if (q.decay == 1u) { pi = pi * s.wdFactor; }
  let denom = sqrt(vi) / s.sqrtBc2 + s.eps;
  p[i] = pi - (mi / denom) * s.lrOverBc1;
}`;

export interface FusedAdamWStep {
  beta1: number; beta2: number; eps: number; weightDecay: number; lr: number;
  /** Step number after increment (1 for the first update): bias corrections use it. */
  t: number;
  /** Workgroups per grid dimension before a second dimension is used (default 65535, WebGPU's minimum limit; tests lower it). */
  maxGroupsPerDim?: number;
}

interface Gpu {
  device: {
    createShaderModule(d: object): unknown; createComputePipeline(d: object): { getBindGroupLayout(i: number): unknown };
    createBuffer(d: object): GpuBuffer; createBindGroup(d: object): unknown;
  };
  pipeline: { getBindGroupLayout(i: number): unknown };
  stepUniform: GpuBuffer;
  paramUniforms: WeakMap<object, { buf: GpuBuffer; gx: number }>;
}
interface GpuBuffer { destroy(): void }
interface Backend {
  tensorMap: { get(id: object): { resource: unknown; values: unknown } };
  uploadToGPU(id: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: { beginComputePass(d?: object): PassEncoder };
  computePassEncoder: PassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  queue: { writeBuffer(b: unknown, o: number, d: ArrayBufferView): void };
}
interface PassEncoder { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number, y?: number, z?: number): void; end(): void }

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
  const module = device.createShaderModule({ code: SHADER });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const stepUniform = device.createBuffer({ size: 32, usage: UNIFORM | COPY_DST });
  gpu = { device, pipeline, stepUniform, paramUniforms: new WeakMap() };
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

/**
 * One AdamW update of every parameter, in place: p, m and v are tf.Variables of the same shapes; g the
 * gradients (already clipped). `decays(name)` says which parameters get weight decay.
 */
export function fusedAdamW(
  params: Record<string, tf.Variable>, m: Record<string, tf.Variable>, v: Record<string, tf.Variable>,
  grads: Record<string, tf.Tensor>, o: FusedAdamWStep, decays: (name: string) => boolean,
): void {
  const g = setup();
  const backend = tf.backend() as unknown as Backend;
  const bc1 = 1 - Math.pow(o.beta1, o.t);
  const sqrtBc2 = Math.sqrt(1 - Math.pow(o.beta2, o.t));
  // Float64 here, rounded to float32 once — as tfjs does with the JS numbers in the op-by-op version.
  backend.queue.writeBuffer(g.stepUniform, 0, Float32Array.from([
    o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, sqrtBc2, o.eps, o.lr / bc1, 1 - o.lr * o.weightDecay,
  ]));
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
    const pu = cached.buf;
    const res = (t: tf.Tensor) => ({ buffer: backend.tensorMap.get(t.dataId).resource });
    const bindGroup = g.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: res(p) }, { binding: 1, resource: res(m[name]) }, { binding: 2, resource: res(v[name]) },
        { binding: 3, resource: res(grad) }, { binding: 4, resource: { buffer: g.stepUniform } }, { binding: 5, resource: { buffer: pu } },
      ],
    });
    // Record into tfjs's own pass, so the update is ordered after the ops that produced the gradients.
    backend.ensureCommandEncoderReady();
    if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder.beginComputePass();
    backend.computePassEncoder.setPipeline(g.pipeline);
    backend.computePassEncoder.setBindGroup(0, bindGroup);
    backend.computePassEncoder.dispatchWorkgroups(gx, gy);
    // Keeps the gradient's buffer out of the free pool until the submit (a queue.writeBuffer into a
    // reused buffer would otherwise land before this dispatch reads it).
    for (const t of [p, m[name], v[name], grad]) backend.commandQueueOwnedIds.add(t.dataId);
    // A read (data()/dataSync()) caches the values on the CPU and later reads return that copy; the GPU
    // buffer has just changed under it, so drop the copy.
    for (const t of [p, m[name], v[name]]) backend.tensorMap.get(t.dataId).values = null;
  }
  // Submit now: the next step's uniform write must not overtake these dispatches.
  backend.endComputePassEncoder();
  backend.submitQueue();
}

// GPUBufferUsage bits (WebGPU spec constants).
const COPY_DST = 0x0008, UNIFORM = 0x0040;
