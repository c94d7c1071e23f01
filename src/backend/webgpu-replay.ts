// A training step recorded once and replayed (opt-in: MIDTRAIN_WEBGPU_REPLAY=1; webgpu backend only).
//
// Why: after the fused kernels, the bind-group cache and the stable buffer pool, a steady-state step issues
// the same WebGPU commands every time — the same pipelines, bind groups (so the same buffers) and workgroup
// counts — and what is left of its host time is tfjs's per-kernel bookkeeping (engine, tape, program and
// shader keys) plus Dawn's recording. Here a normal step is recorded at the Dawn level (every command of every
// submitted command buffer, every queue.writeBuffer, in order); later steps skip tfjs entirely: the per-step
// writes get this step's bytes, the commands are encoded again straight from the recording, and the step's
// [loss, grad norm] is copied into a fresh tfjs tensor, which the caller reads as usual (readStepStats, the
// loop's run-ahead).
//
// What changes from step to step, and how a replay gets it:
//   - the micro-batches' token ids, targets and loss weights: the writes whose source array is the step's
//     own (identified by object identity when recorded: tfjs uploads the caller's typed array as it is);
//   - the learning rate and step count: they enter only the fused AdamW's step uniform (webgpu-adamw.ts),
//     recomputed for each replayed step; the optimizer's step count advances as a normal step's would.
// Every other write must carry the same bytes in two consecutive recorded steps, or nothing is replayed.
// The step's host code may depend on a batch only through those uploads (true of batchLoss: no branch reads
// the tokens on the host), and on nothing read back from the device (a readback refuses the recording).
// Parameters, moments and the loss-scale state are updated in place by the fused AdamW, so the tfjs
// Variables stay valid; their host-side copies are dropped after each replay, as the fused AdamW does.
//
// When a step is replayed (anything else runs the normal tfjs step, which is never wrong):
//   - the step's key is the recording's: model config, micro-batch count and shapes, weights present or not,
//     gradient clip, loss scaling, the backend object and every env flag that changes the graph;
//   - two consecutive normal steps produced the same commands on the same objects (pipelines, bind groups,
//     buffers, sizes), each input array was written exactly once, no buffer was created, nothing was read
//     back and no pass carried timestamp writes inside the step;
//   - no tf.time()/tf.profile() is measuring (those need tfjs's own dispatches);
//   - none of the recording's buffers has gone: the step's intermediates are taken out of tfjs's free pool
//     when the recording is adopted (nothing else can be handed them), and a buffer it shares with a live
//     tensor (parameters, moments, the loss scale, uniform blocks) being released to the pool or destroyed
//     drops the recording (then the next steps record again). Evaluation and checkpoints between steps
//     only read the weights and allocate elsewhere, so they keep it.
// replayStats(owner).lastFallback says why the last step was not replayed.
//
// Several shapes: an owner keeps one recording per key, up to replayKeep() of them (least recently replayed
// given back first), so SFT, which pads each batch to one of a few widths when replay is on
// (replayPaddedLength in train/sft.ts), replays each width. The buffer pool remembers each shape's last
// assignment (setStepShape), so steps of other shapes in between do not reorder a shape's buffers.
//
// Cost: the pinned intermediates (about one step's activations, per recording) stay allocated while a recording lives, so
// evaluation between steps takes GPU memory of its own instead of sharing tfjs's pool. releaseStepReplay(owner)
// gives them back (AdamW.dispose calls it, and so does a step run with the flag off).
import * as tf from '@tensorflow/tfjs';
import { dawnGlobals, webgpuDevice } from './webgpu';
import { bindGroupBuffers, setStepShape, wasDestroyed } from './webgpu-bind-groups';
import { subgroupReductions } from './webgpu-subgroups';

/** One step as the caller describes it: what it depends on, its per-step inputs, and how to run it normally. */
export interface ReplayableStep {
  /** Whatever besides the inputs below decides the step's commands (config, shapes, clip, flags). */
  key: string;
  /** The object whose state the step updates (the optimizer): its recordings, one per key, live with it. */
  owner: object;
  /** The host arrays uploaded afresh each step (each micro-batch's ids, targets, weights), in a fixed order. */
  inputs: ArrayBufferView[];
  /** Tensors the step updates in place (parameters, moments, loss-scale state). */
  state: tf.Tensor[];
  /** The fused AdamW's step-uniform bytes for this step (its lr and bias corrections). */
  adamwUniform: () => ArrayBufferView;
  /** The AdamW step uniform's GPU buffer (the write that gets adamwUniform()). */
  adamwUniformBuffer: () => object | undefined;
  /** The normal step through tfjs: returns the [loss, grad norm, …] stats tensor. */
  run: () => tf.Tensor1D;
  /** What run() changes on the host besides the GPU (the optimizer's step count), for a replayed step. */
  replayed: () => void;
}

/** True when steps should go through stepWithReplay (MIDTRAIN_WEBGPU_REPLAY=1 on the webgpu backend). */
export function replayWanted(): boolean {
  return process.env.MIDTRAIN_WEBGPU_REPLAY === '1' && tf.getBackend() === 'webgpu' && webgpuDevice() !== undefined;
}

/**
 * Runs `f` with tfjs's CPU forwarding off: tfjs computes ops whose inputs are all small host-resident tensors
 * (under 1000 elements, e.g. a short SFT batch's loss mask) on the CPU and uploads the result every step, a
 * write whose bytes a recording cannot know; on the device the mask is computed from the uploaded weights.
 */
export function onDeviceOnly<T>(f: () => T): T {
  const env = tf.env();
  const before = env.getBool('WEBGPU_CPU_FORWARD');
  env.set('WEBGPU_CPU_FORWARD', false);
  try {
    return f();
  } finally {
    env.set('WEBGPU_CPU_FORWARD', before);
  }
}

/** The env flags and settings that change a step's graph, pipelines or buffers (part of every key). */
export function replayFlags(): string {
  return ['MIDTRAIN_WEBGPU_FUSED_ADAMW', 'MIDTRAIN_WEBGPU_FUSED', 'MIDTRAIN_WEBGPU_FAST_UPLOAD', 'MIDTRAIN_WEBGPU_MATMUL',
    'MIDTRAIN_WEBGPU_FAST_CLONE', 'MIDTRAIN_WEBGPU_BIND_GROUP_CACHE', 'MIDTRAIN_WEBGPU_F16']
    .map((k) => process.env[k] ?? '').join(',') + `|batch ${tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')}`
    + `|subgroups ${subgroupReductions().used}`;
}

// ---------------------------------------------------------------------------------------------------------
// The recording.

/** Commands inside one command buffer. */
type Cmd =
  | { op: 'pass' }
  | { op: 'end' }
  | { op: 'pipeline'; pipeline: object }
  | { op: 'bind'; index: number; group: object }
  | { op: 'dispatch'; x: number; y: number; z: number }
  | { op: 'copy'; src: object; srcOffset: number; dst: object; dstOffset: number; size: number };

/** A queue operation, in queue order: a write (constant bytes, an input's, or the AdamW uniform's), or a submit. */
type QueueOp =
  | { op: 'write'; buffer: object; offset: number; bytes: Uint8Array; input?: number; adamw?: boolean }
  | { op: 'submit'; buffers: Cmd[][] };

interface Recording {
  key: string;
  ops: QueueOp[];
  /** The buffer holding the stats tensor when the step returned, its shape. */
  stats: { buffer: object; shape: number[] };
  /** Why it cannot be replayed (a readback inside the step, …), if so. */
  unreplayable?: string;
}

interface Adopted extends Recording {
  backend: TfjsBackend;
  /** Buffers taken out of tfjs's free pool for this recording. */
  pinned: object[];
  /** Buffers not from tfjs's pool (the fused AdamW's own): checked for destruction before each replay. */
  external: object[];
  /** Every buffer it watches (the external ones and those live tensors hold). */
  shared: object[];
  /** Set when a buffer the recording shares was released or destroyed. */
  invalid?: string;
}

/**
 * An owner's recordings, one per step key (SFT pads its batches to a few lengths, each its own key): the last
 * normal step of each key (a candidate), and the adopted ones, least recently replayed first.
 */
interface Replayer { candidates: Map<string, Recording>; adopted: Map<string, Adopted>; replays: number; recorded: number; lastFallback?: string }

/**
 * How many adopted recordings an owner keeps (MIDTRAIN_WEBGPU_REPLAY_KEEP, default 6): each pins about one
 * step's intermediates of its shape, so this bounds the GPU memory replay holds. Beyond it the least
 * recently replayed is given back.
 */
export function replayKeep(): number {
  const v = Number(process.env.MIDTRAIN_WEBGPU_REPLAY_KEEP ?? 6);
  return Number.isInteger(v) && v >= 1 ? v : 6;
}

interface GpuBuffer { size: number; usage: number }
interface BufferManager {
  acquireBuffer(size: number, usage: number): object;
  freeBuffers: Map<string, object[]>;
  usedBuffers: Map<string, object[]>;
  numFreeBuffers: number; numUsedBuffers: number; numBytesUsed: number;
  releaseBuffer(b: object, reuse?: boolean): void;
  __midtrainReplayWatch?: boolean;
}
interface Encoder {
  beginComputePass(d?: object): Pass;
  copyBufferToBuffer(s: object, so: number, d: object, dO: number, n: number): void;
  finish(): object;
}
interface Pass { setPipeline(p: object): void; setBindGroup(i: number, g: object): void; dispatchWorkgroups(x: number, y?: number, z?: number): void; end(): void }
interface TfjsBackend {
  device: { createCommandEncoder(): Encoder };
  queue: { writeBuffer(b: object, o: number, d: ArrayBufferView | ArrayBuffer, dOff?: number, size?: number): void; submit(c: object[]): void };
  bufferManager: BufferManager;
  commandEncoder: Encoder | null;
  computePassEncoder: Pass | null;
  activeTimers: unknown[] | null;
  tensorMap: { get(id: object): { resource: unknown; values: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(id: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const replayers = new WeakMap<object, Replayer>();
/** Buffers adopted recordings use but do not own: releasing or destroying one drops every recording using it. */
const watched = new WeakMap<object, Set<Adopted>>();

/** Replay counters for an owner (tests, benchmarks): steps replayed and steps recorded; why the last one was not replayed. */
export function replayStats(owner: object): { replays: number; recorded: number; adopted: boolean; recordings: number; lastFallback?: string } {
  const r = replayers.get(owner);
  const live = r ? [...r.adopted.values()].filter((a) => !a.invalid).length : 0;
  return { replays: r?.replays ?? 0, recorded: r?.recorded ?? 0, adopted: live > 0, recordings: live, lastFallback: r?.lastFallback };
}

/**
 * Runs one training step: replayed from the owner's recording when everything matches (see the header),
 * otherwise through tfjs, recorded, and adopted for replay once two consecutive recordings agree.
 */
export function stepWithReplay(s: ReplayableStep): tf.Tensor1D {
  const backend = tf.backend() as unknown as TfjsBackend;
  let r = replayers.get(s.owner);
  if (!r) replayers.set(s.owner, (r = { candidates: new Map(), adopted: new Map(), replays: 0, recorded: 0 }));
  const measuring = backend.activeTimers != null || (tf.engine() as unknown as { state: { profiling: boolean } }).state.profiling;
  if (measuring) {
    r.lastFallback = 'tf.time()/tf.profile() is measuring';
    return s.run();
  }
  // Recordings whose shared buffers went (the optimizer's state reloaded, …) give their buffers back now.
  for (const [key, x] of r.adopted) {
    if (key !== s.key && (x.invalid || x.backend !== backend)) { drop(x); r.adopted.delete(key); }
  }
  const a = r.adopted.get(s.key);
  if (a) {
    const why = a.invalid ?? (a.backend !== backend ? 'another backend' : staleExternal(a));
    if (!why) {
      const out = replay(a, s, backend);
      if (out) {
        r.replays++;
        r.adopted.delete(s.key); // most recently replayed last
        r.adopted.set(s.key, a);
        return out;
      }
      r.lastFallback = 'inputs differ in size from the recording';
    } else r.lastFallback = why;
    drop(a);
    r.adopted.delete(s.key);
  }
  setStepShape(s.key);
  const { stats, recording } = record(s, backend);
  r.recorded++;
  const prev = r.candidates.get(s.key);
  r.candidates.delete(s.key);
  r.candidates.set(s.key, recording);
  // Candidates hold no buffers, only their recorded bytes: a few more than the adopted recordings are kept.
  while (r.candidates.size > 2 * replayKeep()) r.candidates.delete(r.candidates.keys().next().value as string);
  const differs = recording.unreplayable ?? (!prev ? 'first step of its shapes' : prev.unreplayable ? 'the previous step of its shapes was not replayable' : stepDifference(prev, recording));
  if (!differs) {
    const adopted = adopt(recording, backend);
    if (typeof adopted === 'string') r.lastFallback = adopted;
    else {
      r.adopted.set(s.key, adopted);
      r.candidates.delete(s.key);
      while (r.adopted.size > replayKeep()) {
        const [oldest, x] = r.adopted.entries().next().value as [string, Adopted];
        drop(x);
        r.adopted.delete(oldest);
      }
    }
  } else r.lastFallback = differs === recording.unreplayable ? differs : `recorded, not yet adopted: ${differs}`;
  return stats;
}

/** Gives back the buffers the owner's recording holds and forgets it (call when the owner's state is disposed). */
export function releaseStepReplay(owner: object): void {
  const r = replayers.get(owner);
  for (const a of r?.adopted.values() ?? []) drop(a);
  replayers.delete(owner);
}

// ---------------------------------------------------------------------------------------------------------
// Recording a normal step.

type Proto = Record<string, unknown>;

/** Submits whatever tfjs has encoded and not submitted, so a recording starts and ends on a clean queue. */
function flush(backend: TfjsBackend): void {
  if (backend.commandEncoder) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

function bytesOf(data: ArrayBufferView | ArrayBuffer, dataOffset = 0, size?: number): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(dataOffset, size === undefined ? undefined : dataOffset + size));
  const el = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const start = data.byteOffset + dataOffset * el;
  const len = size === undefined ? data.byteLength - dataOffset * el : size * el;
  return new Uint8Array(data.buffer.slice(start, start + len));
}

/** Runs s.run() with every WebGPU call the step makes recorded; returns the step's stats tensor (a copy the caller owns). */
function record(s: ReplayableStep, backend: TfjsBackend): { stats: tf.Tensor1D; recording: Recording } {
  const g = dawnGlobals() as Record<string, { prototype: Proto }> | undefined;
  if (!g) throw new Error('webgpu replay: dawn.node is not loaded');
  flush(backend);
  const ops: QueueOp[] = [];
  const encoders = new WeakMap<object, Cmd[]>();
  const passes = new WeakMap<object, Cmd[]>();
  const finished = new WeakMap<object, Cmd[]>();
  let unreplayable: string | undefined;
  const refuse = (why: string) => { unreplayable ??= why; };
  const adamwBuffer = s.adamwUniformBuffer();
  const undo: (() => void)[] = [];
  // Replaces proto[name] for the duration of the step; `f` gets the original and the call.
  const hook = (proto: Proto | undefined, name: string, f: (orig: (...a: unknown[]) => unknown, self: object, a: unknown[]) => unknown) => {
    if (!proto || typeof proto[name] !== 'function') return;
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: object, ...a: unknown[]) { return f((...b: unknown[]) => orig.apply(this, b), this, a); };
    undo.push(() => { proto[name] = orig; });
  };
  // Anything not handled below makes the step unreplayable (it would not be reproduced).
  const refuseOthers = (proto: Proto | undefined, handled: string[], what: string) => {
    if (!proto) return;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (handled.includes(name) || name === 'constructor' || name === 'label') continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (!d || typeof d.value !== 'function') continue;
      hook(proto, name, (orig, _self, a) => { refuse(`${what}.${name} inside the step`); return orig(...a); });
    }
  };
  const P = (n: string) => g[n]?.prototype;
  hook(P('GPUDevice'), 'createCommandEncoder', (orig, _self, a) => {
    const enc = (orig as (...x: unknown[]) => object)(...a);
    encoders.set(enc, []);
    return enc;
  });
  hook(P('GPUDevice'), 'createBuffer', (orig, _s, a) => { refuse('a buffer was created inside the step (not steady yet)'); return (orig as (...x: unknown[]) => unknown)(...a); });
  hook(P('GPUBuffer'), 'mapAsync', (orig, _s, a) => { refuse('a readback inside the step'); return (orig as (...x: unknown[]) => unknown)(...a); });
  hook(P('GPUCommandEncoder'), 'beginComputePass', (orig, self, a) => {
    const list = encoders.get(self);
    if (!list) refuse('an encoder begun before the step');
    if (a[0] && Object.keys(a[0] as object).length > 0) refuse('a compute pass with a descriptor (timestamps)');
    const pass = (orig as (...x: unknown[]) => object)(...a);
    list?.push({ op: 'pass' });
    if (list) passes.set(pass, list);
    return pass;
  });
  hook(P('GPUCommandEncoder'), 'copyBufferToBuffer', (orig, self, a) => {
    const list = encoders.get(self);
    if (!list) refuse('an encoder begun before the step');
    if (a.length !== 5) refuse('copyBufferToBuffer without explicit offsets and size');
    list?.push({ op: 'copy', src: a[0] as object, srcOffset: a[1] as number, dst: a[2] as object, dstOffset: a[3] as number, size: a[4] as number });
    return (orig as (...x: unknown[]) => unknown)(...a);
  });
  hook(P('GPUCommandEncoder'), 'finish', (orig, self, a) => {
    const cb = (orig as (...x: unknown[]) => object)(...a);
    const list = encoders.get(self);
    if (list) finished.set(cb, list);
    return cb;
  });
  refuseOthers(P('GPUCommandEncoder'), ['beginComputePass', 'copyBufferToBuffer', 'finish'], 'GPUCommandEncoder');
  hook(P('GPUComputePassEncoder'), 'setPipeline', (orig, self, a) => { passes.get(self)?.push({ op: 'pipeline', pipeline: a[0] as object }); return orig(...a); });
  hook(P('GPUComputePassEncoder'), 'setBindGroup', (orig, self, a) => {
    if (a.length > 2 && a[2] != null && (a[2] as ArrayLike<number>).length > 0) refuse('dynamic offsets');
    passes.get(self)?.push({ op: 'bind', index: a[0] as number, group: a[1] as object });
    return orig(...a);
  });
  hook(P('GPUComputePassEncoder'), 'dispatchWorkgroups', (orig, self, a) => {
    passes.get(self)?.push({ op: 'dispatch', x: a[0] as number, y: (a[1] as number | undefined) ?? 1, z: (a[2] as number | undefined) ?? 1 });
    return orig(...a);
  });
  hook(P('GPUComputePassEncoder'), 'end', (orig, self, a) => { passes.get(self)?.push({ op: 'end' }); return orig(...a); });
  refuseOthers(P('GPUComputePassEncoder'), ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'end'], 'GPUComputePassEncoder');
  hook(P('GPUQueue'), 'writeBuffer', (orig, _self, a) => {
    const [buffer, offset, data, dataOffset, size] = a as [object, number, ArrayBufferView | ArrayBuffer, number | undefined, number | undefined];
    const input = s.inputs.indexOf(data as ArrayBufferView);
    const whole = !dataOffset && (size === undefined || size * ((data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) === (data as ArrayBufferView).byteLength);
    if (input >= 0 && (!whole || offset !== 0)) refuse('an input written in parts');
    ops.push({
      op: 'write', buffer, offset, bytes: bytesOf(data, dataOffset, size),
      ...(input >= 0 ? { input } : {}), ...(buffer === adamwBuffer ? { adamw: true } : {}),
    });
    return orig(...a);
  });
  hook(P('GPUQueue'), 'submit', (orig, _self, a) => {
    const cbs = a[0] as object[];
    const lists = cbs.map((cb) => finished.get(cb));
    if (lists.some((l) => !l)) refuse('a command buffer encoded before the step');
    ops.push({ op: 'submit', buffers: lists.filter((l): l is Cmd[] => !!l) });
    return orig(...a);
  });
  refuseOthers(P('GPUQueue'), ['writeBuffer', 'submit'], 'GPUQueue');
  let stats: tf.Tensor1D;
  try {
    stats = s.run();
    flush(backend);
  } finally {
    for (const u of undo.reverse()) u();
  }
  const statsBuffer = backend.tensorMap.get(stats.dataId)?.resource as object | undefined;
  if (!statsBuffer) refuse('the stats tensor has no GPU buffer');
  const inputsSeen = new Map<number, number>();
  for (const o of ops) if (o.op === 'write' && o.input !== undefined) inputsSeen.set(o.input, (inputsSeen.get(o.input) ?? 0) + 1);
  if (s.inputs.some((_, i) => inputsSeen.get(i) !== 1)) refuse('an input array was not uploaded exactly once');
  if (!ops.some((o) => o.op === 'write' && o.adamw)) refuse('no fused AdamW step uniform written');
  // The caller gets a copy: the recorded stats buffer becomes the recording's own (reused by every replay).
  const touched = buffersOf({ key: s.key, ops, stats: { buffer: statsBuffer ?? {}, shape: stats.shape } });
  const out = statsCopy(backend, statsBuffer, stats.shape, typeof touched === 'string' ? undefined : touched);
  stats.dispose();
  flush(backend);
  return { stats: out, recording: { key: s.key, ops, stats: { buffer: statsBuffer ?? {}, shape: stats.shape }, ...(unreplayable ? { unreplayable } : {}) } };
}

/**
 * A new float32 tensor of `shape` holding a copy of `src` (queued and submitted now), in a pooled buffer that
 * is not one of `avoid` (a recording's buffers: the copy outlives the step, and a buffer the recording
 * shares with a live tensor is watched, so its release would drop the recording).
 */
function statsCopy(backend: TfjsBackend, src: object | undefined, shape: number[], avoid?: Set<object>): tf.Tensor1D {
  const info = backend.makeTensorInfo(shape, 'float32');
  const bm = backend.bufferManager;
  const size = 4 * shape.reduce((a, b) => a * b, 1), usage = STORAGE | COPY_SRC | COPY_DST; // as tfjs's uploadToGPU
  const passedOver: object[] = [];
  let dst = bm.acquireBuffer(size, usage);
  while (avoid?.has(dst)) {
    passedOver.push(dst);
    dst = bm.acquireBuffer(size, usage);
  }
  for (const b of passedOver) bm.releaseBuffer(b);
  backend.tensorMap.get(info.dataId)!.resource = dst;
  if (src) {
    const enc = backend.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, dst, 0, 4 * shape.reduce((a, b) => a * b, 1));
    backend.queue.submit([enc.finish()]);
  }
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
}

/** How two recordings of a step differ (undefined: the same queue operations on the same objects, same constant bytes). */
function stepDifference(a: Recording, b: Recording): string | undefined {
  if (a.key !== b.key) return 'another key';
  if (a.ops.length !== b.ops.length) return `${b.ops.length} queue operations, ${a.ops.length} before`;
  if (a.stats.buffer !== b.stats.buffer || a.stats.shape.join() !== b.stats.shape.join()) return 'the stats landed in another buffer';
  for (let i = 0; i < a.ops.length; i++) {
    const x = a.ops[i], y = b.ops[i];
    const at = `queue operation ${i + 1} of ${a.ops.length}`;
    if (x.op === 'write' && y.op === 'write') {
      if (x.buffer !== y.buffer || x.offset !== y.offset || x.bytes.length !== y.bytes.length || x.input !== y.input || x.adamw !== y.adamw) return `${at}: a write to another place`;
      if (x.input === undefined && !x.adamw && !Buffer.from(x.bytes).equals(Buffer.from(y.bytes))) return `${at}: a constant write with other bytes`;
    } else if (x.op === 'submit' && y.op === 'submit') {
      if (x.buffers.length !== y.buffers.length) return `${at}: another number of command buffers`;
      for (let j = 0; j < x.buffers.length; j++) {
        const p = x.buffers[j], q = y.buffers[j];
        if (p.length !== q.length) return `${at}: another number of commands`;
        for (let k = 0; k < p.length; k++) if (!sameCmd(p[k], q[k])) return `${at}: command ${k + 1} is ${q[k].op === 'bind' ? 'a bind group on other buffers' : `another ${q[k].op}`}`;
      }
    } else return `${at}: a ${y.op} where there was a ${x.op}`;
  }
  return undefined;
}

function sameCmd(p: Cmd, q: Cmd): boolean {
  if (p.op !== q.op) return false;
  switch (p.op) {
    case 'pipeline': return p.pipeline === (q as typeof p).pipeline;
    case 'bind': return p.index === (q as typeof p).index && p.group === (q as typeof p).group;
    case 'dispatch': { const r = q as typeof p; return p.x === r.x && p.y === r.y && p.z === r.z; }
    case 'copy': { const r = q as typeof p; return p.src === r.src && p.dst === r.dst && p.srcOffset === r.srcOffset && p.dstOffset === r.dstOffset && p.size === r.size; }
    default: return true;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Adopting a recording: its buffers become its own or are watched.

/** Every buffer the recording touches (bind groups' entries, copies, writes, the stats buffer). */
function buffersOf(rec: Recording): Set<object> | string {
  const all = new Set<object>([rec.stats.buffer]);
  for (const o of rec.ops) {
    if (o.op === 'write') all.add(o.buffer);
    else for (const cmds of o.buffers) for (const c of cmds) {
      if (c.op === 'copy') { all.add(c.src); all.add(c.dst); }
      else if (c.op === 'bind') {
        const bufs = bindGroupBuffers(c.group);
        if (!bufs) return 'a bind group made outside the bind-group cache (its buffers are unknown)';
        for (const b of bufs) all.add(b);
      }
    }
  }
  return all;
}

function keyOf(b: object): string {
  const g = b as GpuBuffer;
  return `${g.size}_${g.usage}`; // tfjs's getBufferKey
}

/** Takes the recording's buffers that are free in tfjs's pool out of it; watches the ones live tensors hold. */
function adopt(rec: Recording, backend: TfjsBackend): Adopted | string {
  const all = buffersOf(rec);
  if (typeof all === 'string') return all;
  const bm = backend.bufferManager;
  watchReleases(bm);
  const adopted: Adopted = { ...rec, backend, pinned: [], external: [], shared: [] };
  for (const b of all) {
    const key = keyOf(b);
    const free = bm.freeBuffers.get(key);
    const i = free ? free.indexOf(b) : -1;
    if (i >= 0) {
      // As acquireBuffer does, so tfjs's counters and a later releaseBuffer stay right.
      free!.splice(i, 1);
      bm.numFreeBuffers--;
      let used = bm.usedBuffers.get(key);
      if (!used) bm.usedBuffers.set(key, (used = []));
      used.push(b);
      bm.numUsedBuffers++;
      bm.numBytesUsed += (b as GpuBuffer).size;
      adopted.pinned.push(b);
    } else if (bm.usedBuffers.get(key)?.includes(b)) {
      watch(b, adopted);
    } else {
      adopted.external.push(b);
      watch(b, adopted);
    }
  }
  return adopted;
}

function watch(b: object, a: Adopted): void {
  let set = watched.get(b);
  if (!set) watched.set(b, (set = new Set()));
  set.add(a);
  a.shared.push(b);
}

/** Makes tfjs's releaseBuffer drop any recording that uses the buffer being released (once per pool). */
function watchReleases(bm: BufferManager): void {
  if (bm.__midtrainReplayWatch) return;
  const orig = bm.releaseBuffer;
  bm.releaseBuffer = function releaseBuffer(this: BufferManager, b: object, reuse?: boolean): void {
    for (const a of watched.get(b) ?? []) a.invalid ??= 'a buffer the recorded step shares was released';
    return orig.call(this, b, reuse);
  };
  bm.__midtrainReplayWatch = true;
}

function staleExternal(a: Adopted): string | undefined {
  return a.external.some((b) => wasDestroyed(b)) ? 'a buffer the recorded step uses was destroyed' : undefined;
}

/** Forgets an adopted recording: its pinned buffers go back to tfjs's pool (if that pool is still the backend's). */
function drop(a: Adopted): void {
  a.invalid ??= 'dropped';
  for (const b of a.shared) watched.get(b)?.delete(a);
  a.shared = [];
  const backend = tf.findBackend('webgpu') as unknown as TfjsBackend | null;
  if (backend !== a.backend) return; // the backend was reset: its buffers are gone anyway
  for (const b of a.pinned) {
    try {
      a.backend.bufferManager.releaseBuffer(b);
    } catch { /* the pool was disposed */ }
  }
  a.pinned = [];
}

// ---------------------------------------------------------------------------------------------------------
// Replaying.

/** Re-issues the recording with this step's inputs; returns the stats tensor, or undefined when an input does not fit. */
function replay(a: Adopted, s: ReplayableStep, backend: TfjsBackend): tf.Tensor1D | undefined {
  for (const o of a.ops) if (o.op === 'write' && o.input !== undefined && s.inputs[o.input].byteLength !== o.bytes.length) return undefined;
  if (s.inputs.length !== a.ops.filter((o) => o.op === 'write' && o.input !== undefined).length) return undefined;
  flush(backend);
  const { device, queue } = backend;
  const adamw = s.adamwUniform();
  for (const o of a.ops) {
    if (o.op === 'write') {
      queue.writeBuffer(o.buffer, o.offset, o.input !== undefined ? s.inputs[o.input] : o.adamw ? adamw : o.bytes);
      continue;
    }
    const cbs: object[] = [];
    for (const cmds of o.buffers) {
      const enc = device.createCommandEncoder();
      let pass: Pass | undefined;
      for (const c of cmds) {
        switch (c.op) {
          case 'pass': pass = enc.beginComputePass(); break;
          case 'pipeline': pass!.setPipeline(c.pipeline); break;
          case 'bind': pass!.setBindGroup(c.index, c.group); break;
          case 'dispatch': pass!.dispatchWorkgroups(c.x, c.y, c.z); break;
          case 'end': pass!.end(); pass = undefined; break;
          case 'copy': enc.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size); break;
        }
      }
      cbs.push(enc.finish());
    }
    queue.submit(cbs);
  }
  const out = statsCopy(backend, a.stats.buffer, a.stats.shape);
  for (const t of s.state) {
    const d = backend.tensorMap.get(t.dataId);
    if (d) d.values = null; // updated on the GPU: drop any host copy
  }
  s.replayed();
  return out;
}

// GPUBufferUsage bits (WebGPU spec constants).
const COPY_SRC = 0x0004, COPY_DST = 0x0008, STORAGE = 0x0080;
