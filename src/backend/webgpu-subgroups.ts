// Workgroup-wide reductions (sum, max) for this project's WGSL kernels, with subgroup operations where the
// device has them and they behave as the reduction assumes.
//
// Every row kernel (layer norm, cross-entropy, the attention softmax and its gradient, the gradient norm)
// reduces across a 256-thread workgroup. Without subgroups that is a tree in workgroup memory: 8 halvings,
// a barrier after each, 9 barriers per reduction. With them, each subgroup adds its lanes in registers
// (`subgroupAdd`), one lane per subgroup writes its partial, and after one barrier every thread adds the
// 256/n partials in the same order (so every thread holds the same value): 2 barriers per reduction.
//
// What the subgroup version assumes, and WGSL does not promise: a 1-D workgroup's subgroups are full and
// made of consecutive local invocation indices (lane = index mod n). Vulkan drivers lay them out so in
// practice (lavapipe does), and it is checked on the device before use: `probeSubgroupReductions` runs a
// kernel that records each invocation's subgroup size, lane and subgroup sums, and runs the reductions
// themselves on a known answer; anything else and the workgroup tree is kept (the reason is reported).
// Subgroup sizes may differ from pipeline to pipeline (Intel, AMD): the kernels read theirs at run time
// (`subgroupAdd(1u)`).
//
// Numerics: a different order of float additions from the tree, deterministic for a given device.
// MIDTRAIN_WEBGPU_SUBGROUPS=0 keeps the tree; =1 insists (the backend refuses to start without them);
// unset: used on a GPU when the adapter offers `subgroups` and the probe passes; not on a software adapter,
// where the tree measured faster (docs/gpu.md).
import * as tf from '@tensorflow/tfjs';
import { runWgsl, uniforms } from './webgpu-dispatch';

/** Threads per workgroup of the reduction kernels. */
export const REDUCE_WG = 256;

/** The marker a kernel's WGSL carries where the reduction functions go. */
export const REDUCTIONS = '/*midtrain:reductions*/';

export interface SubgroupReport {
  /** True when the kernels reduce with subgroup operations. */
  used: boolean;
  /** The subgroup size the probe saw (lanes). */
  size?: number;
  /** Why they are used or not, in a few words. */
  why: string;
}

let available = false;
let on = false;
let report: SubgroupReport = { used: false, why: 'webgpu not started' };

/** WGSL for wgSum(v, li) and wgMax(v, li): all REDUCE_WG threads call them; the result is valid in every thread. */
export function reductionWgsl(subgroups: boolean, wg = REDUCE_WG): string {
  if (!subgroups) {
    const tree = (op: (a: string, b: string) => string, name: string) => `
fn ${name}(v: f32, li: u32) -> f32 {
  workgroupBarrier();
  red[li] = v;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (li < k) { red[li] = ${op('red[li]', 'red[li + k]')}; }
    workgroupBarrier();
  }
  return red[0];
}`;
    return `var<workgroup> red: array<f32, ${wg}>;${tree((a, b) => `${a} + ${b}`, 'wgSum')}${tree((a, b) => `max(${a}, ${b})`, 'wgMax')}`;
  }
  // Subgroups have at least 4 lanes (WebGPU's minimum subgroup size), so at most wg/4 partials.
  const sg = (fn: string, name: string, op: (a: string, b: string) => string) => `
fn ${name}(v: f32, li: u32) -> f32 {
  let s = ${fn}(v);
  let n = subgroupAdd(1u);
  workgroupBarrier();
  if (li % n == 0u) { red[li / n] = s; }
  workgroupBarrier();
  var t = red[0];
  for (var k = 1u; k < ${wg}u / n; k = k + 1u) { t = ${op('t', 'red[k]')}; }
  return t;
}`;
  return `var<workgroup> red: array<f32, ${wg / 4}>;${sg('subgroupAdd', 'wgSum', (a, b) => `${a} + ${b}`)}${sg('subgroupMax', 'wgMax', (a, b) => `max(${a}, ${b})`)}`;
}

const kernels = new Map<string, [string, string]>();
/** The names of the kernels built here, as they are timed (tf.time() reports ours by pipeline name). */
const reducingNames = new Set<string>();

/**
 * [pipeline name, WGSL] of a kernel whose code has the REDUCTIONS marker, in the reduction mode now in use
 * unless `subgroups` says which (the name says which, so each mode has its own pipeline). For
 * runWgsl(...reductionKernel(name, code), …).
 */
export function reductionKernel(name: string, code: string, subgroups = on): [string, string] {
  const key = `${name}${subgroups ? '-sg' : ''}`;
  let k = kernels.get(key);
  if (!k) {
    if (!code.includes(REDUCTIONS)) throw new Error(`reductionKernel: ${name} has no ${REDUCTIONS} marker`);
    k = [key, (subgroups ? 'enable subgroups;\n' : '') + code.replace(REDUCTIONS, reductionWgsl(subgroups))];
    kernels.set(key, k);
  }
  reducingNames.add(name);
  return k;
}

/** The kernels that have reduced through wgSum/wgMax in this process (their names without the '-sg' of the subgroup mode). */
export function reductionKernelNames(): string[] {
  return [...reducingNames];
}

/**
 * MIDTRAIN_WEBGPU_SUBGROUPS as a mode: '0' keeps the tree, '1' insists on subgroups, '' (unset) is the
 * default. Anything else throws, naming the variable.
 */
export function parseSubgroupMode(v: string | undefined): '' | '0' | '1' {
  if (v === undefined || v === '' || v === '0' || v === '1') return v ?? '';
  throw new Error(`MIDTRAIN_WEBGPU_SUBGROUPS must be 0 or 1, got '${v}'`);
}

/** Whether the reduction kernels use subgroup operations now, the subgroup size seen and why. */
export function subgroupReductions(): SubgroupReport {
  return { ...report, used: on };
}

/** Whether the subgroup reductions passed their probe on this device (setSubgroupReductions(true) is allowed). */
export function subgroupReductionsAvailable(): boolean {
  return available;
}

/** Switch the reductions between subgroups and the workgroup tree (tests, profiles); on needs a passed probe. */
export function setSubgroupReductions(use: boolean): void {
  if (use && !available) throw new Error(`subgroup reductions are not available here: ${report.why}`);
  on = use;
}

/** One probe invocation's record: size, lane, subgroupAdd(1), subgroupAdd(li), subgroupMax(li), wgSum(li), wgMax(li). */
const PROBE_FIELDS = 7;

const PROBE = /* wgsl */ `
struct U { scale: f32, pad0: f32, pad1: f32, pad2: f32 };
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<uniform> u: U;
${REDUCTIONS}
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(local_invocation_index) li: u32, @builtin(subgroup_size) n: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let x = f32(li) * u.scale;
  let a = subgroupAdd(1.0);
  let s = subgroupAdd(x);
  let m = subgroupMax(x);
  let ws = wgSum(x, li);
  let wm = wgMax(x, li);
  let b = li * ${PROBE_FIELDS}u;
  o[b] = f32(n); o[b + 1u] = f32(lane); o[b + 2u] = a; o[b + 3u] = s; o[b + 4u] = m; o[b + 5u] = ws; o[b + 6u] = wm;
}`;

/**
 * Checks a probe readback (PROBE_FIELDS values per invocation of one REDUCE_WG workgroup, x = index):
 * one subgroup size n (a power of two, 4 ≤ n ≤ REDUCE_WG), full subgroups of consecutive indices, their sums
 * and maxima right, and the reductions' known answers (Σ index, max index). The reason names the first failure.
 */
export function judgeSubgroupProbe(o: ArrayLike<number>, wg = REDUCE_WG): { ok: true; size: number } | { ok: false; reason: string } {
  const n = o[0];
  if (!(Number.isInteger(n) && n >= 4 && n <= wg && (n & (n - 1)) === 0)) return { ok: false, reason: `subgroup size ${n} (need a power of two from 4 to ${wg})` };
  const field = (li: number, f: number) => o[li * PROBE_FIELDS + f];
  // The layout first (it explains a wrong sum), then the subgroup sums, then the reductions' known answers.
  for (let li = 0; li < wg; li++) {
    if (field(li, 0) !== n) return { ok: false, reason: `subgroup sizes differ within one workgroup (${n} and ${field(li, 0)})` };
    if (field(li, 2) !== n) return { ok: false, reason: `invocation ${li}'s subgroup has ${field(li, 2)} active lanes of ${n}` };
    if (field(li, 1) !== li % n) return { ok: false, reason: `invocation ${li} is lane ${field(li, 1)}, not ${li % n}: subgroups are not consecutive indices` };
  }
  for (let li = 0; li < wg; li++) {
    const first = li - (li % n), sum = field(li, 3), max = field(li, 4);
    if (sum !== n * first + (n * (n - 1)) / 2 || max !== first + n - 1) return { ok: false, reason: `invocation ${li}'s subgroup sum/max ${sum}/${max} are not those of indices ${first}…${first + n - 1}` };
  }
  for (let li = 0; li < wg; li++) {
    const wsum = field(li, 5), wmax = field(li, 6);
    if (wsum !== (wg * (wg - 1)) / 2 || wmax !== wg - 1) return { ok: false, reason: `the workgroup reduction gave ${wsum}/${wmax} in invocation ${li}, not ${(wg * (wg - 1)) / 2}/${wg - 1}` };
  }
  return { ok: true, size: n };
}

export interface SubgroupSituation {
  /** The adapter offers the `subgroups` feature (the device was created with it). */
  offered: boolean;
  /** Dawn's null device: nothing runs, so nothing can be probed. */
  nullDevice: boolean;
  /** A software adapter (lavapipe): there the workgroup tree measured faster, so subgroups are off unless asked for. */
  software: boolean;
  /** MIDTRAIN_WEBGPU_SUBGROUPS: '0', '1', or '' / undefined for the default. */
  mode?: string;
}

/**
 * The reduction mode for a device, given the probe's verdict where one was run: whether subgroups may be used
 * (`available`: setSubgroupReductions(true) is then allowed), whether they are (`used`), and why; `refuse` when
 * MIDTRAIN_WEBGPU_SUBGROUPS=1 cannot be honoured (the backend must not start).
 */
export function decideSubgroups(s: SubgroupSituation, verdict?: ReturnType<typeof judgeSubgroupProbe>): SubgroupReport & { available: boolean; refuse?: string } {
  const mode = parseSubgroupMode(s.mode);
  const no = (why: string) => ({ used: false, available: false, why, ...(mode === '1' ? { refuse: `subgroup reductions asked for (MIDTRAIN_WEBGPU_SUBGROUPS=1) but ${why}` } : {}) });
  if (mode === '0') return { used: false, available: false, why: 'off (MIDTRAIN_WEBGPU_SUBGROUPS=0)' };
  if (!s.offered) return no('the adapter has no subgroups');
  // Nothing runs on the null device, so nothing to probe; =1 still compiles and records the subgroup kernels (host time).
  if (s.nullDevice) return mode === '1' ? { used: true, available: true, why: 'forced on the null device (not probed: nothing runs)' } : no('not probed on the null device (its readbacks are zeros)');
  if (!verdict) throw new Error('decideSubgroups: the probe must run on a device that offers subgroups');
  if (!verdict.ok) return no(`probe failed: ${verdict.reason}`);
  const passed = `probe passed (subgroup size ${verdict.size})`;
  if (s.software && mode !== '1') return { used: false, available: true, size: verdict.size, why: `${passed}; off on a software adapter, where the workgroup tree is faster (MIDTRAIN_WEBGPU_SUBGROUPS=1 uses them)` };
  return { used: true, available: true, size: verdict.size, why: passed };
}

/**
 * Decides the reduction mode for the active webgpu device (created with the `subgroups` feature when offered):
 * runs the probe kernel where it can and reads it back, then decideSubgroups. The mode stays in force for the
 * kernels until the next call; `refuse` says why the backend must not start.
 */
export async function probeSubgroupReductions(s: SubgroupSituation): Promise<SubgroupReport & { refuse?: string }> {
  available = on = false;
  let verdict: ReturnType<typeof judgeSubgroupProbe> | undefined;
  if (s.offered && !s.nullDevice && s.mode !== '0') {
    const [out] = runWgsl(...reductionKernel('midtrain-subgroup-probe', PROBE, true), [], [[REDUCE_WG * PROBE_FIELDS]], uniforms([], [1]), [1, 1]);
    const t = tf.engine().makeTensorFromTensorInfo(out);
    verdict = judgeSubgroupProbe(await t.data());
    t.dispose();
  }
  const { available: ok, refuse, ...r } = decideSubgroups(s, verdict);
  available = ok;
  on = r.used;
  report = r;
  return { ...r, ...(refuse ? { refuse } : {}) };
}
