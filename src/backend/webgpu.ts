// The WebGPU backend on Dawn (npm `webgpu`, native dawn.node) from Node: init, lavapipe, release.
//
// Pitfalls handled here, in one place (TOOLCHAIN.md, docs/gpu.md):
// - Node has no `navigator`: tfjs-backend-webgpu registers itself only when `navigator.gpu` exists at
//   module evaluation, and its backend constructor checks it again; it also reads the browser globals
//   GPUBufferUsage/GPUMapMode/… . We install both from dawn.node, then register our own factory so the
//   adapter we probed (and vetted) is the one the backend uses, whatever was imported before.
// - Dawn keeps the process alive until the device is destroyed and navigator.gpu dropped: releaseWebgpu().
// - Software adapters (lavapipe, SwiftShader) work but are ~1000× slower than a GPU: the chooser uses
//   webgpu automatically only on a real adapter; tests and forced runs may accept a software one.
// - lavapipe from kernel-setup/lavapipe.sh lives in a private folder; the Vulkan loader and newer libdrm
//   there are loaded by absolute path (RTLD_NODELETE) before Dawn dlopen()s "libvulkan.so.1", so no
//   LD_LIBRARY_PATH is needed (it could not be changed after Node started anyway).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cacheRoot } from '../config';
import { registerWebgpuKernelFixes } from './webgpu-kernels';
import { registerWebgpuFusedKernels } from './webgpu-fused';
import { registerWebgpuMatmul } from './webgpu-matmul';
import { parseSubgroupMode, probeSubgroupReductions } from './webgpu-subgroups';
import { installFastClone } from './webgpu-saved-tensors';
import { cacheBindGroups, shareTfjsUniforms, stabiliseBufferPool } from './webgpu-bind-groups';

/** Minimal shapes of the Dawn objects we touch (the `webgpu` package's DOM-flavoured types stay out of src/). */
export interface DawnAdapterInfo {
  vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean;
}
interface DawnAdapter {
  info?: DawnAdapterInfo;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(desc?: object): Promise<DawnDevice>;
}
export interface DawnDevice {
  destroy(): void;
  limits: Record<string, number>;
  onuncapturederror: ((ev: { error?: { message?: string } }) => void) | null;
  lost?: Promise<{ reason?: string; message?: string }>;
  features: { has(name: string): boolean };
  queue: unknown;
}
interface DawnGpu {
  requestAdapter(opts?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<DawnAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

export interface WebgpuOptions {
  /** Accept a software (fallback) adapter such as lavapipe. The chooser sets it only when webgpu is forced. */
  allowSoftware?: boolean;
  /** Point Dawn at the lavapipe that kernel-setup/lavapipe.sh unpacked (implies allowSoftware). Default: MIDTRAIN_WEBGPU_LAVAPIPE=1. */
  lavapipe?: boolean;
  /** Extra Dawn toggles for create(), e.g. 'enable-dawn-features=allow_unsafe_apis'. */
  dawnFlags?: string[];
  /**
   * Dawn's null backend: every WebGPU call is validated and recorded, no GPU runs anything and readbacks
   * return zeros. A training step's time is then the host's alone, the ceiling on what any GPU can give this
   * code (bench/webgpu-profile.ts --null-device). Never chosen automatically: MIDTRAIN_WEBGPU_NULL=1 takes
   * effect only where webgpu is forced (allowSoftware).
   */
  nullDevice?: boolean;
  /** Command-buffer batching of the tfjs backend (ops per submit; tfjs default 15). Default: MIDTRAIN_WEBGPU_BATCH or 64. */
  submitBatch?: number;
  /** Replace tfjs's staging-buffer upload with queue.writeBuffer (no createBuffer per upload). Default true (MIDTRAIN_WEBGPU_FAST_UPLOAD=0: off). */
  fastUpload?: boolean;
  /**
   * Mixed-precision matmuls: f16 tiles, f32 accumulation (webgpu-matmul.ts); needs the adapter's shader-f16.
   * Default: MIDTRAIN_WEBGPU_F16=1. Off by default; weights, activations and the optimizer stay f32.
   */
  f16?: boolean;
}

export interface WebgpuAdapterSummary {
  /** Human-readable adapter name, e.g. "nvidia hopper NVIDIA H200". */
  name: string;
  software: boolean;
  /** Dawn's null backend (WebgpuOptions.nullDevice): nothing runs. */
  nullDevice?: boolean;
  features: string[];
  /** Whether the reduction kernels use subgroup operations, and why (src/backend/webgpu-subgroups.ts). */
  subgroups?: { used: boolean; size?: number; why: string };
}

export type WebgpuResult = { ok: true; detail: string; adapter: WebgpuAdapterSummary } | { ok: false; reason: string };

/** What kernel-setup/lavapipe.sh wrote to READY. */
export interface LavapipeInfo { mesa: string; libDir: string; icd: string }

/** Software rasterisers that report as ordinary adapters on some drivers. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;
/** glibc's RTLD_NODELETE (Node's os.constants.dlopen lacks it): the library stays loaded after dlclose. */
const RTLD_NOW = 2, RTLD_GLOBAL = 0x100, RTLD_NODELETE = 0x1000;

let dawn: DawnModule | undefined;
let state: { gpu: DawnGpu; adapter: DawnAdapter; device?: DawnDevice; summary: WebgpuAdapterSummary } | undefined;

/** The lavapipe unpacked by kernel-setup/lavapipe.sh, or undefined with no READY marker. */
export function lavapipeInfo(): LavapipeInfo | undefined {
  const dir = process.env.MIDTRAIN_LAVAPIPE_DIR ?? path.join(cacheRoot(), 'lavapipe');
  const ready = path.join(dir, 'READY');
  if (!fs.existsSync(ready)) return undefined;
  const info = JSON.parse(fs.readFileSync(ready, 'utf8')) as LavapipeInfo;
  if (!fs.existsSync(path.join(info.libDir, 'libvulkan_lvp.so'))) return undefined; // cache moved: rerun the script
  return info;
}

/** Path of dawn.node: MIDTRAIN_DAWN_NODE (self-contained bundles), else the one the `webgpu` package ships. */
export function dawnNodePath(): string {
  if (process.env.MIDTRAIN_DAWN_NODE) return path.resolve(process.env.MIDTRAIN_DAWN_NODE);
  const pkg = path.dirname(require.resolve('webgpu/package.json'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return path.join(pkg, 'dist', `${process.platform}-${arch}`, 'dawn.node');
}

/** dawn.node loaded directly (the package's ESM index only adds a per-buffer WeakRef tracker we do not need). */
function loadDawn(): DawnModule {
  if (!dawn) {
    const file = dawnNodePath();
    installDawnTickHook(); // before dawn.node captures anything; see patchReadSync
    if (!fs.existsSync(file)) throw new Error(`dawn.node not found at ${file} (set MIDTRAIN_DAWN_NODE)`);
    const m = { exports: {} as DawnModule };
    process.dlopen(m, file);
    dawn = m.exports;
  }
  return dawn;
}

/** True when a Vulkan loader can be found the way Dawn will look for it (ld.so cache, LD_LIBRARY_PATH, usual dirs). */
export function hasVulkanLoader(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/usr/local/lib'];
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

/** Loads the private lavapipe's libraries by absolute path and points the loader at its ICD. */
function useLavapipe(info: LavapipeInfo): void {
  for (const lib of ['libdrm.so.2', 'libdrm_amdgpu.so.1', 'libvulkan.so.1']) {
    const file = path.join(info.libDir, lib);
    if (!fs.existsSync(file)) continue;
    try {
      process.dlopen({ exports: {} }, file, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch (e) {
      // Expected: a plain shared library "did not self-register" as a Node addon, yet it stays loaded.
      if (!/self-register/.test(String((e as Error).message))) throw e;
    }
  }
  process.env.VK_DRIVER_FILES = info.icd;
  delete process.env.VK_ICD_FILENAMES;
}

function adapterName(info: DawnAdapterInfo): string {
  const main = info.description || info.device || 'unknown adapter';
  const kind = [info.vendor, info.architecture].filter((s) => s).join(' ');
  return kind ? `${main} (${kind})` : main;
}

/** Installs navigator.gpu and the WebGPU constant objects (GPUBufferUsage, …) that tfjs reads as globals. */
function installGlobals(gpu: DawnGpu, globals: Record<string, unknown>): void {
  const g = globalThis as Record<string, unknown> & { navigator?: object };
  for (const [k, v] of Object.entries(globals)) if (g[k] === undefined) g[k] = v;
  if (g.navigator === undefined) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

/**
 * One Dawn instance per set of flags for the life of the process (its devices are still destroyed on release).
 * With a new instance per start, a process that started and released webgpu a few times crashed inside Dawn or
 * hung (segfaults, "The futex facility returned an unexpected error code", mutex assertions; lavapipe twice,
 * then the null device: 4 crashes in 5 runs); test/webgpu/restart.test.ts.
 */
const instances = new Map<string, DawnGpu>();
function dawnInstance(mod: DawnModule, flags: string[]): DawnGpu {
  const key = JSON.stringify(flags);
  let gpu = instances.get(key);
  if (!gpu) instances.set(key, (gpu = mod.create(flags)));
  return gpu;
}

function dropNavigatorGpu(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
}

/**
 * Makes tfjs's webgpu backend active on the best Dawn adapter, or says why it cannot.
 * A real GPU is required unless allowSoftware/lavapipe; nothing is changed when the answer is {ok: false}.
 */
export async function tryWebgpuBackend(opts: WebgpuOptions = {}): Promise<WebgpuResult> {
  if (state?.device && tf.getBackend() === 'webgpu') return { ok: true, detail: describe(state.summary), adapter: state.summary };
  // A forced webgpu on a machine with no Vulkan loader falls back to the cached lavapipe, if fetched.
  let subgroupMode: string;
  try {
    subgroupMode = parseSubgroupMode(process.env.MIDTRAIN_WEBGPU_SUBGROUPS);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const nullDevice = opts.nullDevice ?? (process.env.MIDTRAIN_WEBGPU_NULL === '1' && opts.allowSoftware === true);
  const wantLavapipe = !nullDevice && (opts.lavapipe ?? (process.env.MIDTRAIN_WEBGPU_LAVAPIPE === '1'
    || (opts.allowSoftware === true && process.platform === 'linux' && !hasVulkanLoader() && lavapipeInfo() !== undefined)));
  const allowSoftware = opts.allowSoftware || wantLavapipe || nullDevice;
  if (wantLavapipe) {
    const lvp = lavapipeInfo();
    if (!lvp) return { ok: false, reason: 'lavapipe requested but not fetched (run kernel-setup/lavapipe.sh)' };
    useLavapipe(lvp);
  } else if (!nullDevice && process.platform === 'linux' && !hasVulkanLoader()) {
    // Checked first because Dawn would print a warning to stderr on every CPU-only machine.
    return { ok: false, reason: 'no Vulkan loader (libvulkan.so.1) on this machine' };
  }
  let mod: DawnModule;
  try {
    mod = loadDawn();
  } catch (e) {
    return { ok: false, reason: `dawn.node failed to load: ${String((e as Error).message).split('\n')[0]}` };
  }
  const gpu = dawnInstance(mod, [...(nullDevice ? ['backend=null'] : []), ...(opts.dawnFlags ?? [])]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { ok: false, reason: nullDevice ? 'this dawn.node has no null backend' : 'Dawn found no adapter (no Vulkan driver for a GPU)' };
  const info = adapter.info ?? {};
  const name = nullDevice ? 'Dawn null device (nothing runs: host time only)' : adapterName(info);
  const software = nullDevice || info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(`${info.architecture} ${info.device} ${info.description}`);
  if (software && !allowSoftware) return { ok: false, reason: `only a software adapter (${name}); force with MIDTRAIN_BACKEND=webgpu` };
  // Probed and reported: f16 arithmetic, subgroups, and cooperative matrices (tensor cores through Vulkan)
  // where Dawn exposes them (the last only with allow_unsafe_apis).
  const features = ['timestamp-query', 'shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'].filter((f) => adapter.features.has(f));
  const f16 = opts.f16 ?? process.env.MIDTRAIN_WEBGPU_F16 === '1';
  if (f16 && !features.includes('shader-f16')) return { ok: false, reason: `mixed precision asked for (MIDTRAIN_WEBGPU_F16=1) but ${name} has no shader-f16` };
  const summary: WebgpuAdapterSummary = { name, software, features, ...(nullDevice ? { nullDevice } : {}) };

  installGlobals(gpu, mod.globals);
  const webgpu: typeof import('@tensorflow/tfjs-backend-webgpu') = require('@tensorflow/tfjs-backend-webgpu');
  state = { gpu, adapter, summary };
  // Our factory, not the module's: it uses the vetted adapter, and exists even if the module was first
  // evaluated before navigator.gpu was set (then it registered no backend at all).
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: features.filter((f) => f === 'timestamp-query' || f === 'shader-f16' || f === 'subgroups'),
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    if (state) state.device = device;
    cacheBindGroups(device, mod.globals);
    // Dawn reports invalid pipelines and bind groups here and carries on (results then read as zeros):
    // count them so tests can insist on none, and say so once.
    device.onuncapturederror = (ev) => {
      uncapturedErrors++;
      if (uncapturedErrors === 1) console.warn(`[midtrain] webgpu error (results are wrong from here): ${ev.error?.message?.split('\n')[0] ?? ev}`);
    };
    device.lost?.then((l) => { if (state?.device === device) console.warn(`[midtrain] webgpu device lost: ${l.reason ?? ''} ${l.message ?? ''}`); });
    return new webgpu.WebGPUBackend(device as never, info as never);
  }, 3);

  const batch = opts.submitBatch ?? Number(process.env.MIDTRAIN_WEBGPU_BATCH ?? 64);
  if (!(Number.isInteger(batch) && batch > 0)) return { ok: false, reason: `MIDTRAIN_WEBGPU_BATCH must be a positive integer, got ${batch}` };
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (e) {
    releaseWebgpu();
    return { ok: false, reason: `the tfjs webgpu backend failed on ${name}: ${String((e as Error).message).split('\n')[0]}` };
  }
  if (!ok || tf.getBackend() !== 'webgpu') {
    releaseWebgpu();
    return { ok: false, reason: `the tfjs webgpu backend failed to initialise on ${name}` };
  }
  registerWebgpuKernelFixes(state.device?.limits.maxStorageBuffersPerShaderStage ?? 8);
  registerWebgpuFusedKernels();
  registerWebgpuMatmul({ f16 });
  installFastClone();
  shareTfjsUniforms(tf.backend());
  stabiliseBufferPool(tf.backend());
  if (opts.fastUpload ?? process.env.MIDTRAIN_WEBGPU_FAST_UPLOAD !== '0') patchUploads(tf.backend());
  patchReadSync(tf.backend());
  const { refuse, ...subgroups } = await probeSubgroupReductions({ offered: features.includes('subgroups'), nullDevice, software, mode: subgroupMode });
  if (refuse) {
    releaseWebgpu();
    return { ok: false, reason: refuse };
  }
  summary.subgroups = subgroups;
  return { ok: true, detail: describe(summary), adapter: summary };
}

function describe(s: WebgpuAdapterSummary): string {
  return s.nullDevice ? s.name : `${s.name} via Dawn/Vulkan${s.software ? ' (software adapter)' : ''}`;
}

let uncapturedErrors = 0;

/** WebGPU validation/internal errors reported by Dawn since the process started (0 when all is well). */
export function webgpuErrorCount(): number {
  return uncapturedErrors;
}

/** dawn.node's WebGPU classes (GPUDevice, GPUQueue, …) once loaded, for counters; undefined before. */
export function dawnGlobals(): Record<string, unknown> | undefined {
  return dawn?.globals;
}

/** The adapter webgpu runs on (name, software or not, the probed features), or undefined when it is not active. */
export function webgpuAdapter(): WebgpuAdapterSummary | undefined {
  return tf.getBackend() === 'webgpu' ? state?.summary : undefined;
}

/** The active Dawn device (for custom kernels and counters), or undefined when webgpu is not active. */
export function webgpuDevice(): DawnDevice | undefined {
  return tf.getBackend() === 'webgpu' ? state?.device : undefined;
}

/**
 * Lets the process exit and frees the GPU: disposes the backend, destroys the device, drops navigator.gpu.
 * Tensors on webgpu are lost; call it when done. Harmless when webgpu was never started.
 */
export function releaseWebgpu(): void {
  if (!state) return;
  if (tf.findBackend('webgpu') != null || tf.findBackendFactory('webgpu') != null) {
    if (tf.getBackend() === 'webgpu') tf.engine().reset();
    tf.removeBackend('webgpu');
  }
  state.device?.destroy();
  state = undefined;
  dropNavigatorGpu();
}

// ---------------------------------------------------------------------------------------------------------
// Host-overhead fix: uploads without a staging buffer per tensor.

interface TensorDataLike { values: ArrayLike<number> | null; dtype: string; shape: number[]; resource: unknown }
interface WebgpuBackendLike {
  tensorMap: { get(id: object): TensorDataLike };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  queue: { writeBuffer(buf: unknown, offset: number, data: ArrayBufferView): void };
  uploadToGPU(dataId: object): void;
  __midtrainFastUpload?: boolean;
}

/**
 * tfjs uploads CPU-held values (every tf.scalar in a gradient, every batch of token ids) by taking a pooled
 * buffer and, because a reused one is never mapped, creating a fresh MAP_WRITE staging buffer each time:
 * one createBuffer per upload. queue.writeBuffer copies through Dawn's own ring buffer instead. It is safe
 * here: a pooled buffer is free only once every command that used it was submitted, and the write lands
 * before the next submit, which is the first that can read it.
 */
function patchUploads(backend: unknown): void {
  const b = backend as WebgpuBackendLike;
  if (b.__midtrainFastUpload) return;
  const usage = STORAGE | COPY_SRC | COPY_DST;
  b.uploadToGPU = function uploadToGPU(this: WebgpuBackendLike, dataId: object): void {
    const d = this.tensorMap.get(dataId);
    if (d.resource != null) return;
    const n = d.shape.reduce((a, s) => a * s, 1);
    const size = 4 * n; // float32, int32 and bool are all 4 bytes per element on webgpu
    const buffer = this.bufferManager.acquireBuffer(size, usage);
    if (d.values) {
      const v = d.values;
      const data = d.dtype === 'int32' || d.dtype === 'bool'
        ? (v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>))
        : (v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>));
      if (size > 0) this.queue.writeBuffer(buffer, 0, data);
      d.values = null; // as tfjs does: once uploaded, the GPU copy is the truth
    }
    d.resource = buffer;
  };
  b.__midtrainFastUpload = true;
}
/**
 * Synchronous readback (dataSync/arraySync) for webgpu in Node. tfjs's own readSync draws through an
 * OffscreenCanvas, which Node lacks ("OffscreenCanvas is not defined"), and mapAsync resolves only when
 * Dawn processes events, which dawn.node does from a setImmediate callback it re-queues while work is
 * pending. We route those callbacks through installDawnTickHook(), so a synchronous read can run the
 * pending tick itself until the staging buffer is mapped. It waits for the GPU like any sync readback:
 * code in a hot loop should still prefer `await t.data()`.
 */
function patchReadSync(backend: unknown): void {
  const b = backend as {
    readSync(id: object): unknown; tensorMap: { get(id: object): TensorDataLike };
    bufferManager: { acquireBuffer(size: number, usage: number): StagingBuffer; releaseBuffer(buf: unknown): void };
    ensureCommandEncoderReady(): void; endComputePassEncoder(): void; submitQueue(): void;
    commandEncoder: { copyBufferToBuffer(src: unknown, so: number, dst: unknown, d: number, size: number): void };
    convertAndCacheOnCPU(id: object, vals: unknown): unknown;
    __midtrainReadSync?: boolean;
  };
  if (b.__midtrainReadSync || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const orig = b.readSync;
  b.readSync = function readSync(this: typeof b, dataId: object): unknown {
    const d = this.tensorMap.get(dataId);
    if (d.values != null || d.dtype === 'string' || d.dtype === 'complex64' || d.resource == null) return orig.call(this, dataId);
    const src = d.resource as { size: number };
    const staging = this.bufferManager.acquireBuffer(src.size, COPY_DST | MAP_READ);
    this.ensureCommandEncoderReady();
    this.endComputePassEncoder();
    this.commandEncoder.copyBufferToBuffer(src, 0, staging, 0, src.size);
    this.submitQueue();
    staging.mapAsync(MAP_MODE_READ).catch(() => { /* state is checked below */ });
    waitMapped(staging);
    const data = staging.getMappedRange().slice(0);
    staging.unmap();
    this.bufferManager.releaseBuffer(staging);
    const vals = tf.util.convertBackendValuesAndArrayBuffer(data, d.dtype as tf.DataType);
    this.convertAndCacheOnCPU(dataId, vals);
    return vals;
  };
  b.__midtrainReadSync = true;
}

interface StagingBuffer {
  mapState: string; mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void;
}

/** The Dawn event-processing tick that dawn.node last queued with setImmediate (not yet run). */
let pendingTick: { done: boolean; run(): void } | undefined;

/**
 * Wraps globalThis.setImmediate once so that native callbacks (dawn.node's event-processing tick; JS
 * callbacks pass straight through) can also be run synchronously by waitMapped(). A tick runs once:
 * whichever comes first, the event loop or a synchronous read.
 */
function installDawnTickHook(): void {
  const g = globalThis as { setImmediate: typeof setImmediate; __midtrainTickHook?: boolean };
  if (g.__midtrainTickHook) return;
  const real = g.setImmediate;
  const isNative = (f: unknown) => typeof f === 'function' && /\[native code\]\s*\}$/.test(Function.prototype.toString.call(f));
  const hooked = function (this: unknown, cb: (...a: unknown[]) => void, ...args: unknown[]) {
    if (!isNative(cb)) return (real as (...a: unknown[]) => NodeJS.Immediate).call(this, cb, ...args);
    const task = { done: false, run() { if (!task.done) { task.done = true; cb(...args); } } };
    pendingTick = task;
    return real.call(this, () => task.run());
  };
  g.setImmediate = Object.assign(hooked, real) as typeof setImmediate;
  g.__midtrainTickHook = true;
}

/** Spins Dawn's event processing until `buf` is mapped (or mapping failed, or 5 minutes passed). */
function waitMapped(buf: StagingBuffer): void {
  const deadline = Date.now() + 300_000;
  while (buf.mapState === 'pending') {
    const t = pendingTick;
    pendingTick = undefined;
    if (t) t.run();
    if (Date.now() > deadline) throw new Error('webgpu: synchronous readback timed out after 5 minutes (GPU hung or device lost)');
  }
  if (buf.mapState !== 'mapped') throw new Error(`webgpu: synchronous readback failed (buffer ${buf.mapState}; device lost?)`);
}

// GPUBufferUsage bits (WebGPU spec constants; the globals exist only after installGlobals).
const MAP_READ = 0x0001, COPY_SRC = 0x0004, COPY_DST = 0x0008, STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;
