// Bind groups reused across steps. Every dispatch, tfjs's and ours, binds its buffers with a fresh
// GPUDevice.createBindGroup, which Dawn validates and allocates each time: on this project's 2-core machine it
// cost ~260 µs under load (tens of µs idle), the largest single host cost of a dispatch. A training step runs the
// same graph every time and tfjs's buffer pool hands out the same buffers in the same order, so the same
// (layout, buffers) combinations recur: the cache below returns the bind group made the first time.
// A bind group is immutable and names its buffers, so reusing one for the same layout and the same buffer
// ranges is exactly equivalent; entries die with their buffers (GPUBuffer.destroy) and the cache is bounded.
//
// The layout must be a stable object for the key: dawn.node returns a new wrapper from every
// getBindGroupLayout(), so that is memoised per pipeline too (the layout itself never changes).

interface BufferBinding { buffer: object; offset?: number; size?: number }
interface BindGroupDescriptor { layout: object; entries: { binding: number; resource: BufferBinding | object }[]; label?: string }
interface Device { createBindGroup(d: BindGroupDescriptor): unknown; __midtrainBindGroupCache?: BindGroupCache }

/** Distinct bind groups kept per device; beyond it the oldest go (a step of the Pythia-70M graph uses ~550). */
const MAX_ENTRIES = 16384;

export interface BindGroupCache { hits: number; misses: number; size(): number; clear(): void }

const ids = new WeakMap<object, number>();
let nextId = 1;
const idOf = (o: object): number => {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
};

/** Keys of cached bind groups per buffer, to forget them when the buffer is destroyed. */
const keysByBuffer = new WeakMap<object, { cache: Map<string, unknown>; keys: Set<string> }[]>();
/** The buffers each cached bind group binds (a recorded step needs to know what it touches: webgpu-replay.ts). */
const buffersByGroup = new WeakMap<object, object[]>();
const destroyedBuffers = new WeakSet<object>();

/** The buffers a bind group made through the cache binds, or undefined for one made elsewhere. */
export function bindGroupBuffers(group: object): readonly object[] | undefined {
  return buffersByGroup.get(group);
}

/** Whether GPUBuffer.destroy() was called on `buffer` (seen once the prototype patch is in). */
export function wasDestroyed(buffer: object): boolean {
  return destroyedBuffers.has(buffer);
}

/**
 * Memoises getBindGroupLayout per pipeline and records buffer destruction (prototype patches, once per
 * process); `globals` are dawn.node's WebGPU classes.
 */
function patchPrototypes(globals: Record<string, unknown>): void {
  const pipelineProto = (globals.GPUComputePipeline as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (pipelineProto && !pipelineProto.__midtrainLayoutMemo) {
    const orig = pipelineProto.getBindGroupLayout as (this: object, i: number) => object;
    const memo = new WeakMap<object, Map<number, object>>();
    pipelineProto.getBindGroupLayout = function getBindGroupLayout(this: object, i: number): object {
      let m = memo.get(this);
      if (!m) memo.set(this, (m = new Map()));
      let l = m.get(i);
      if (!l) m.set(i, (l = orig.call(this, i)));
      return l;
    };
    pipelineProto.__midtrainLayoutMemo = true;
  }
  const bufferProto = (globals.GPUBuffer as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (bufferProto && !bufferProto.__midtrainForgetBindGroups) {
    const orig = bufferProto.destroy as (this: object) => void;
    bufferProto.destroy = function destroy(this: object): void {
      for (const { cache, keys } of keysByBuffer.get(this) ?? []) for (const k of keys) cache.delete(k);
      keysByBuffer.delete(this);
      destroyedBuffers.add(this);
      orig.call(this);
    };
    bufferProto.__midtrainForgetBindGroups = true;
  }
}

/**
 * Makes `device.createBindGroup` return the bind group already made for the same layout and buffer ranges
 * (idempotent; MIDTRAIN_WEBGPU_BIND_GROUP_CACHE=0 leaves it alone). Descriptors with anything but buffer
 * bindings go straight to Dawn. Returns the cache's counters, or undefined when off.
 */
export function cacheBindGroups(device: unknown, globals: Record<string, unknown>): BindGroupCache | undefined {
  if (process.env.MIDTRAIN_WEBGPU_BIND_GROUP_CACHE === '0') return undefined;
  const d = device as Device;
  if (d.__midtrainBindGroupCache) return d.__midtrainBindGroupCache;
  patchPrototypes(globals);
  const cache = new Map<string, unknown>();
  // Through the prototype at call time, so counters wrapped around it later (webgpu-stats.ts) see each real creation.
  const proto = Object.getPrototypeOf(d) as Device;
  const create = (desc: BindGroupDescriptor): unknown => proto.createBindGroup.call(d, desc);
  const stats: BindGroupCache = { hits: 0, misses: 0, size: () => cache.size, clear: () => cache.clear() };
  d.createBindGroup = (desc: BindGroupDescriptor): unknown => {
    let key = `${idOf(desc.layout)}`;
    for (const e of desc.entries) {
      const r = e.resource as BufferBinding;
      if (!r || typeof r !== 'object' || !('buffer' in r)) return create(desc);
      key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    const hit = cache.get(key);
    if (hit !== undefined) {
      stats.hits++;
      return hit;
    }
    stats.misses++;
    const group = create(desc);
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(key, group);
    if (group && typeof group === 'object') buffersByGroup.set(group, desc.entries.map((e) => (e.resource as BufferBinding).buffer));
    for (const e of desc.entries) {
      const buf = (e.resource as BufferBinding).buffer;
      let list = keysByBuffer.get(buf);
      if (!list) keysByBuffer.set(buf, (list = []));
      let mine = list.find((x) => x.cache === cache);
      if (!mine) list.push((mine = { cache, keys: new Set() }));
      mine.keys.add(key);
    }
    return group;
  };
  d.__midtrainBindGroupCache = stats;
  return stats;
}

// ---------------------------------------------------------------------------------------------------------
// Uniform buffers by content. tfjs writes each dispatch's uniforms (shapes, strides, constants) into a fresh
// pooled buffer that returns to the pool at the next submit, so the buffer a dispatch binds depends on where
// it falls in the submit batch, which shifts from step to step (546 dispatches a step, 64 a batch): its bind
// group never recurs. Keeping one buffer per distinct uniform content makes it recur, and saves the
// writeBuffer too. Contents that change every step (a scalar in a uniform) age out of the bounded map; an
// evicted buffer goes back to tfjs's pool at the next submit, after every command that reads it.

interface UniformBackend {
  bufferManager: { acquireBuffer(size: number, usage: number): object };
  queue: { writeBuffer(b: object, o: number, d: ArrayBuffer | ArrayBufferView, dOff?: number, size?: number): void };
  uniformPendingDisposal: object[];
}

/** Distinct uniform contents kept per backend. */
const MAX_UNIFORMS = 8192;
const uniformMaps = new WeakMap<object, Map<string, object>>();

/** A uniform buffer holding exactly `data` (first `size` bytes), shared by every dispatch with the same content. */
export function uniformBufferFor(backend: UniformBackend, data: ArrayBuffer, size = data.byteLength): object {
  let m = uniformMaps.get(backend);
  if (!m) uniformMaps.set(backend, (m = new Map()));
  const key = Buffer.from(data, 0, size).toString('latin1');
  let buf = m.get(key);
  if (buf) {
    m.delete(key); // most recently used last
    m.set(key, buf);
    return buf;
  }
  buf = backend.bufferManager.acquireBuffer(size, COPY_DST | UNIFORM);
  backend.queue.writeBuffer(buf, 0, data, 0, size);
  if (m.size >= MAX_UNIFORMS) {
    const [oldKey, old] = m.entries().next().value as [string, object];
    m.delete(oldKey);
    backend.uniformPendingDisposal.push(old);
  }
  m.set(key, buf);
  return buf;
}

/**
 * tfjs's makeUniforms with the buffer taken from uniformBufferFor: tfjs's own code lays the block out (run
 * against stand-ins that capture the bytes instead of allocating and writing), so the layout is exactly its own.
 */
export function shareTfjsUniforms(backend: unknown): void {
  if (process.env.MIDTRAIN_WEBGPU_BIND_GROUP_CACHE === '0') return;
  const b = backend as UniformBackend & { makeUniforms(u: unknown): { offset: number; size: number; buffer: object }; __midtrainSharedUniforms?: boolean };
  if (b.__midtrainSharedUniforms) return;
  const orig = b.makeUniforms;
  let captured: { data: ArrayBuffer; size: number } | undefined;
  const marker = {};
  const captureManager = { acquireBuffer: () => marker };
  const captureQueue = { writeBuffer: (_b: object, _o: number, data: ArrayBuffer, _d?: number, size?: number) => { captured = { data, size: size ?? data.byteLength }; } };
  const noPending = { push: () => 0 };
  b.makeUniforms = function makeUniforms(this: typeof b, programUniform: unknown) {
    const { bufferManager, queue, uniformPendingDisposal } = this;
    Object.assign(this, { bufferManager: captureManager, queue: captureQueue, uniformPendingDisposal: noPending });
    captured = undefined;
    try {
      orig.call(this, programUniform);
    } finally {
      Object.assign(this, { bufferManager, queue, uniformPendingDisposal });
    }
    if (!captured) throw new Error('webgpu: tfjs makeUniforms wrote no uniform block (tfjs internals changed?)');
    const { data, size } = captured;
    return { offset: 0, size, buffer: uniformBufferFor(this, data, size) };
  };
  b.__midtrainSharedUniforms = true;
}

// GPUBufferUsage bits (WebGPU spec constants).
const COPY_DST = 0x0008, UNIFORM = 0x0040;

// ---------------------------------------------------------------------------------------------------------
// The same buffers for the same tensors every step. tfjs's pool keeps a stack of free buffers per size, so a
// step's intermediates land in a different permutation of the pooled buffers each step and their bind groups
// never recur. Here the n-th buffer a step takes of a given size and usage is, when it is free, the one the
// n-th acquisition of that kind got in the previous step of the same shape (moved to the top of tfjs's free stack, which then
// pops it as usual). A repeating graph then settles into one assignment, so its bind groups recur. Any free
// buffer is as good as any other for correctness; this only chooses which. Steps are delimited by
// markStepBoundary(), which the fused AdamW calls after each update's submit.

interface PoolManager {
  freeBuffers: Map<string, object[]>;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): object;
  __midtrainStablePool?: StablePool;
}
/** Per step shape (setStepShape), the buffers each kind's acquisitions got in the last step of that shape. */
interface StablePool { byShape: Map<string, Map<string, object[]>>; current: Map<string, object[]>; shape: string }

const pools: StablePool[] = [];

/** Makes tfjs's buffer manager hand out last step's buffer for the same acquisition (idempotent). */
export function stabiliseBufferPool(backend: unknown): void {
  if (process.env.MIDTRAIN_WEBGPU_BIND_GROUP_CACHE === '0') return;
  const bm = (backend as { bufferManager: PoolManager }).bufferManager;
  if (bm.__midtrainStablePool) return;
  const pool: StablePool = { byShape: new Map(), current: new Map(), shape: '' };
  const orig = bm.acquireBuffer;
  bm.acquireBuffer = function acquireBuffer(this: PoolManager, size: number, usage: number, mappedAtCreation = false, reuse = true): object {
    const key = `${size}_${usage}`; // tfjs's getBufferKey
    let taken = pool.current.get(key);
    if (!taken) pool.current.set(key, (taken = []));
    const want = pool.byShape.get(pool.shape)?.get(key)?.[taken.length];
    const free = this.freeBuffers.get(key);
    if (want && reuse && free && free.length > 1) {
      const i = free.lastIndexOf(want);
      if (i >= 0 && i !== free.length - 1) { free[i] = free[free.length - 1]; free[free.length - 1] = want; }
    }
    const buf = orig.call(this, size, usage, mappedAtCreation, reuse);
    taken.push(buf);
    return buf;
  };
  bm.__midtrainStablePool = pool;
  pools.push(pool);
  if (pools.length > 4) pools.shift(); // backends of earlier sessions in this process
}

/**
 * The end of one training step: the acquisitions since the last boundary become the preference of the next
 * step of the same shape.
 */
export function markStepBoundary(): void {
  for (const p of pools) {
    p.byShape.delete(p.shape); // most recent last
    p.byShape.set(p.shape, p.current);
    if (p.byShape.size > 32) p.byShape.delete(p.byShape.keys().next().value as string);
    p.current = new Map();
  }
}

/**
 * The shape of the step about to run (any string; '' when not told). Steps of several shapes taken in turn
 * (SFT's padded widths) then each get their own last assignment again: buffer sizes of different shapes
 * coincide, so one history shared by all shapes would be reordered by every step of another shape.
 */
export function setStepShape(shape: string): void {
  for (const p of pools) p.shape = shape;
}
