// Counters for where a webgpu training step spends host time: tfjs kernels run, WebGPU dispatches,
// queue submits, buffers created, uploads and readbacks. Host time on Dawn goes mostly into these calls
// (TOOLCHAIN.md's profile: createBuffer 21%, per-op record+submit 36%), so counting them per step shows
// what a change saved without needing a GPU: the counts are the same on lavapipe and on an H200.
import * as tf from '@tensorflow/tfjs';
import { dawnGlobals } from './webgpu';

export interface WebgpuCallCounts {
  /** tfjs kernels run (engine.runKernel calls: forward, gradient and optimiser ops). */
  kernels: number;
  /** Compute dispatches recorded (one per GPU kernel launch). */
  dispatches: number;
  /** queue.submit calls (command buffers handed to the driver). */
  submits: number;
  /** GPUDevice.createBuffer calls (new GPU allocations; pooled reuse does not count). */
  createBuffer: number;
  /** GPUDevice.createBindGroup calls (tfjs makes one per kernel). */
  createBindGroup: number;
  /** queue.writeBuffer calls (uniforms and uploads). */
  writeBuffer: number;
  /** GPUBuffer.mapAsync calls (readbacks to the CPU: each one waits for the GPU). */
  mapAsync: number;
  /** Compute pipelines compiled (should be 0 per step after the first). */
  createComputePipeline: number;
  /** Kernel runs by tfjs kernel name. */
  byKernel: Record<string, number>;
}

type Patch = { obj: Record<string, unknown>; key: string; orig: unknown };

function zero(): WebgpuCallCounts {
  return { kernels: 0, dispatches: 0, submits: 0, createBuffer: 0, createBindGroup: 0, writeBuffer: 0, mapAsync: 0, createComputePipeline: 0, byKernel: {} };
}

/** Wraps obj[key] so each call bumps `bump()` first; returns the undo record. */
function wrap(obj: Record<string, unknown> | undefined, key: string, bump: () => void): Patch | undefined {
  if (!obj || typeof obj[key] !== 'function') return undefined;
  const orig = obj[key] as (...a: unknown[]) => unknown;
  obj[key] = function (this: unknown, ...a: unknown[]) {
    bump();
    return orig.apply(this, a);
  };
  return { obj, key, orig };
}

/**
 * Runs fn with counting on and returns its result with the counts. Works on any backend (the WebGPU
 * counters then stay 0). Counting wraps prototype methods only for the duration of fn.
 */
export async function countWebgpuCalls<T>(fn: () => Promise<T> | T): Promise<{ result: T; counts: WebgpuCallCounts }> {
  const c = zero();
  const g = dawnGlobals() as Record<string, { prototype: Record<string, unknown> }> | undefined;
  const proto = (name: string) => g?.[name]?.prototype;
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const runKernel = engine.runKernel as (name: string, ...rest: unknown[]) => unknown;
  const ownRunKernel = Object.prototype.hasOwnProperty.call(engine, 'runKernel');
  const patches = [
    wrap(proto('GPUComputePassEncoder'), 'dispatchWorkgroups', () => c.dispatches++),
    wrap(proto('GPUQueue'), 'submit', () => c.submits++),
    wrap(proto('GPUQueue'), 'writeBuffer', () => c.writeBuffer++),
    wrap(proto('GPUDevice'), 'createBuffer', () => c.createBuffer++),
    wrap(proto('GPUDevice'), 'createBindGroup', () => c.createBindGroup++),
    wrap(proto('GPUDevice'), 'createComputePipeline', () => c.createComputePipeline++),
    wrap(proto('GPUDevice'), 'createComputePipelineAsync', () => c.createComputePipeline++),
    wrap(proto('GPUBuffer'), 'mapAsync', () => c.mapAsync++),
  ].filter((p): p is Patch => p !== undefined);
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    c.kernels++;
    c.byKernel[name] = (c.byKernel[name] ?? 0) + 1;
    return runKernel.call(this, name, ...rest);
  };
  try {
    const result = await fn();
    return { result, counts: c };
  } finally {
    if (ownRunKernel) engine.runKernel = runKernel;
    else delete engine.runKernel;
    for (const p of patches.reverse()) p.obj[p.key] = p.orig;
  }
}

/** Counts divided by n (per step), rounded to 0.1; byKernel sorted by count. */
export function perStep(c: WebgpuCallCounts, n: number): WebgpuCallCounts {
  const r = (x: number) => Math.round((x / n) * 10) / 10;
  const byKernel = Object.fromEntries(Object.entries(c.byKernel).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r(v)]));
  return {
    kernels: r(c.kernels), dispatches: r(c.dispatches), submits: r(c.submits), createBuffer: r(c.createBuffer),
    createBindGroup: r(c.createBindGroup), writeBuffer: r(c.writeBuffer), mapAsync: r(c.mapAsync),
    createComputePipeline: r(c.createComputePipeline), byKernel,
  };
}
