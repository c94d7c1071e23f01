// One compute dispatch of this project's own WGSL (fused kernels, AdamW, clipping), recorded into tfjs's
// webgpu command stream exactly as tfjs records its own kernels: in tfjs's open compute pass, so it is
// ordered with the ops around it; counted toward tfjs's submit batch; and, while tf.time() / tf.profile()
// is measuring, in a pass of its own with timestamp writes, so its GPU time is reported under `name`
// next to tfjs's programs (tfjs-backend-webgpu's recordAndSubmit does the same for its kernels).
// runWgsl() is the whole path for a kernel of ours on tensors: pipeline (compiled once per device),
// outputs, uniform block, bind group, dispatch. The device is taken from tfjs's backend, so the kernel
// files need not import the backend module that registers them.
import * as tf from '@tensorflow/tfjs';
import { uniformBufferFor } from './webgpu-bind-groups';

interface Pass { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number, y?: number, z?: number): void }

/** The parts of tfjs's WebGPUBackend a dispatch touches. */
interface TfjsWebgpuBackend {
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: { beginComputePass(d?: object): Pass };
  computePassEncoder: Pass | null;
  device: Device & { createQuerySet(d: object): unknown };
  dispatchCountInPass: number;
  /** Set while tf.time() runs: each timed program pushes {name, query}. */
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: unknown;
  querySetCount: number;
  getQueryTime(): Promise<number>;
}

export function recordDispatch(name: string, pipeline: unknown, bindGroup: unknown, groups: [number, number] | [number, number, number]): void {
  const b = tf.backend() as unknown as TfjsWebgpuBackend;
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder();
    if (b.querySet == null) b.querySet = b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount });
    b.computePassEncoder = b.commandEncoder.beginComputePass({
      timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
  } else if (!b.computePassEncoder) {
    b.computePassEncoder = b.commandEncoder.beginComputePass();
  }
  b.computePassEncoder!.setPipeline(pipeline);
  b.computePassEncoder!.setBindGroup(0, bindGroup);
  b.computePassEncoder!.dispatchWorkgroups(groups[0], groups[1], groups[2] ?? 1);
  b.dispatchCountInPass++;
  if (timed || b.dispatchCountInPass >= (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers!.push({ name, query: b.getQueryTime() });
    else b.submitQueue();
  }
}

interface Pipeline { getBindGroupLayout(i: number): unknown }
interface Device {
  createShaderModule(d: object): unknown;
  createComputePipeline(d: object): Pipeline;
  createBindGroup(d: object): unknown;
}
/** The parts of tfjs's WebGPUBackend that runWgsl touches to make and bind tensors. */
interface TensorBackend {
  device: Device;
  tensorMap: { get(id: object): { resource: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(id: object): void;
  commandQueueOwnedIds: WeakSet<object>;
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  uniformPendingDisposal: unknown[];
  queue: { writeBuffer(b: unknown, o: number, d: ArrayBufferView): void };
}

const pipelines = new WeakMap<object, Map<string, Pipeline>>();

/** The compute pipeline of `code` on `device`, compiled on first use; `name` must identify the code. */
export function pipeline(device: Device, name: string, code: string): Pipeline {
  let m = pipelines.get(device);
  if (!m) pipelines.set(device, (m = new Map()));
  let p = m.get(name);
  if (!p) {
    p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code, label: name }), entryPoint: 'main' }, label: name });
    m.set(name, p);
  }
  return p;
}

/** A 1-D count of workgroups as a grid within WebGPU's 65535-per-dimension limit; shaders rebuild the index. */
export function grid(groups: number): [number, number] {
  const gx = Math.min(groups, 65535);
  return [gx, Math.ceil(groups / gx)];
}

/** A uniform block of u32 fields, then f32 fields (each 4 bytes), padded to 16 bytes. */
export function uniforms(u32s: number[], f32s: number[] = []): ArrayBuffer {
  const n = Math.ceil((u32s.length + f32s.length) / 4) * 4;
  const buf = new ArrayBuffer(n * 4);
  new Uint32Array(buf, 0, u32s.length).set(u32s);
  new Float32Array(buf, u32s.length * 4, f32s.length).set(f32s);
  return buf;
}

/**
 * Runs one WGSL pipeline inside tfjs's command stream: inputs are bound read-only in order, then the
 * outputs (fresh float32 tensors, read_write), then a uniform block; recorded into tfjs's open compute
 * pass so it is ordered with the ops around it, with tfjs's own bookkeeping (buffers in flight, batch submits).
 */
export function runWgsl(name: string, code: string, inputs: tf.TensorInfo[], outShapes: number[][], uniform: ArrayBuffer, groups: [number, number] | [number, number, number]): tf.TensorInfo[] {
  const backend = tf.backend() as unknown as TensorBackend;
  const device = backend.device;
  const p = pipeline(device, name, code);
  const outputs = outShapes.map((s) => backend.makeTensorInfo(s, 'float32'));
  for (const t of [...inputs, ...outputs]) backend.uploadToGPU(t.dataId);
  // One buffer per distinct uniform content, kept across steps, so the bind group below recurs too.
  const ub = uniformBufferFor(backend as never, uniform);
  const entries = [...inputs, ...outputs].map((t, i) => ({ binding: i, resource: { buffer: backend.tensorMap.get(t.dataId).resource } }));
  entries.push({ binding: entries.length, resource: { buffer: ub } });
  const bindGroup = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries });
  // Held until the submit that carries this dispatch (recordDispatch may submit at once).
  for (const t of [...inputs, ...outputs]) backend.commandQueueOwnedIds.add(t.dataId);
  recordDispatch(name, p, bindGroup, groups);
  return outputs;
}

