// Where a training step's host time goes on the webgpu backend: runs the engine's own step
// (optimizerStep: gradients → clipping → AdamW; its loss read one step late as the training loop does, or
// at once with MIDTRAIN_LOOKAHEAD=0) on synthetic tokens and prints, per steady-state step, the tfjs kernels
// run, GPU dispatches, queue submits, buffers created and readbacks, the host's time to record a step, plus
// ms/step and tokens/s. The counts are the same on lavapipe and on a GPU, so they show what a change saves anywhere.
//
//   node dist/bench/webgpu-profile.js --preset tiny --steps 4            (a real GPU; MIDTRAIN_WEBGPU_LAVAPIPE=1 for lavapipe)
//   node dist/bench/webgpu-profile.js --preset small --cpu-profile step.cpuprofile   (timed steps only)
//   options: --preset NAME | --d N --layers N --heads N --vocab N; --context T --batch B --steps N --warmup N
//            --backend NAME (default webgpu; any backend works, the GPU counters are then 0)
//            --cpu-profile FILE: V8 CPU profile of the timed steps (open in Chrome DevTools) + top self times
//            --kernel-times: one more step with every GPU dispatch timed (WebGPU timestamp queries, each
//              dispatch in its own pass): GPU ms per kernel kind, and their total = the GPU's busy time;
//              then, where subgroups are used, the reducing kernels' GPU time with them and with the
//              workgroup tree (one more timed step); then the matmuls by shape with the GFLOP/s each reached
//            --matmul-bench: only the step's matmul shapes (bench/matmul-shapes.ts), GPU time and GFLOP/s of
//              our WGSL matmul against tfjs's own kernel at each, timed with timestamp queries; then exits.
//              --torch adds PyTorch's (CUDA; MIDTRAIN_PYTHON) at the same shapes in fp32, TF32, bf16 and fp16
//            --check-losses: only a short real run (--steps AdamW steps from the same weights and batches) on
//              webgpu and then on the cpu backend; prints both loss curves and exits 1 when a loss differs by
//              more than 1e-4 relative (the lavapipe test's tolerance)
//            --replay-compare PAIRS: after warm-up, host CPU per step with step replay (MIDTRAIN_WEBGPU_REPLAY)
//              off and on, in PAIRS alternating blocks of --steps steps, with the calls per step of each; exits
//            --null-device: Dawn's null backend (nothing runs, readbacks are zeros): the step's wall time is
//              the host's alone, the most tokens/s any GPU could give this code; losses are meaningless
import * as fs from 'fs';
import * as os from 'os';
import * as inspector from 'inspector';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend } from '../src/backend/choose';
import { webgpuAdapter, webgpuDevice, webgpuErrorCount } from '../src/backend/webgpu';
import { runMatmul, tfjsBatchMatMul, webgpuMatmulF16 } from '../src/backend/webgpu-matmul';
import { stepMatmuls, type MatmulCase } from './matmul-shapes';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { projectRoot } from '../src/config';
import { countWebgpuCalls, perStep } from '../src/backend/webgpu-stats';
import { replayStats } from '../src/backend/webgpu-replay';
import { reductionKernelNames, setSubgroupReductions, subgroupReductions, subgroupReductionsAvailable } from '../src/backend/webgpu-subgroups';
import { deviceRunsAhead } from '../src/backend/caps';
import { MODEL_PRESETS, countParams } from '../src/model/presets';
import { initParams, disposeParams, type Batch } from '../src/model/gpt';
import { AdamW } from '../src/train/optim';
import { optimizerStep, readStepStats } from '../src/train/pretrain';
import { assertStepFits } from '../src/backend/webgpu-fit';
import { Rng } from '../src/rng';
import type { ModelConfig, OptimConfig } from '../src/runs/types';
import type { PresetName } from '../src/config';

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`webgpu-profile: unexpected argument ${argv[i]}`);
    const [k, v] = argv[i].slice(2).split('=');
    out[k] = v ?? (argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true');
  }
  return out;
}

function int(a: Record<string, string>, k: string, dflt: number): number {
  const v = a[k] === undefined ? dflt : Number(a[k]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`webgpu-profile: --${k} must be a positive integer, got ${a[k]}`);
  return v;
}

interface CpuProfile { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[]; timeDeltas: number[] }

/** Runs fn under V8's sampling profiler (the same data as node --cpu-prof, for just this span). */
async function profiled<T>(fn: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((res, rej) => session.post(method, params ?? {}, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  try {
    const result = await fn();
    const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

/** Self time by function (name, file:line), largest first. */
function topSelfTime(p: CpuProfile, n: number): string[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
    total += p.timeDeltas[i] ?? 0;
  });
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}

/**
 * Runs one step under tf.time(): every dispatch, tfjs's and this project's (webgpu-dispatch.ts), in its own
 * timed pass. Prints GPU milliseconds by kernel kind, largest first, and the step's total GPU time.
 */
/** One step with every dispatch timed (timestamp queries): the GPU's busy time and GPU ms by kernel name. */
async function timedStep(step: () => tf.Tensor): Promise<{ total: number; byName: Map<string, { n: number; ms: number }> }> {
  let stats: tf.Tensor | undefined;
  const t = await tf.time(() => { stats = step(); });
  stats?.dispose();
  const info = (t as { getExtraProfileInfo?: () => string }).getExtraProfileInfo?.() ?? '';
  const byName = new Map<string, { n: number; ms: number }>();
  for (const part of info.split(', ').filter(Boolean)) {
    const i = part.lastIndexOf(': ');
    const name = part.slice(0, i), ms = Number(part.slice(i + 2));
    const e = byName.get(name) ?? { n: 0, ms: 0 };
    byName.set(name, { n: e.n + 1, ms: e.ms + ms });
  }
  return { total: t.kernelMs as number, byName };
}

async function kernelTimes(step: () => tf.Tensor, wallMs: number): Promise<void> {
  const { total, byName } = await timedStep(step);
  const rows = [...byName.entries()].sort((x, y) => y[1].ms - x[1].ms);
  console.log(`GPU time of one step: ${total.toFixed(1)} ms in ${rows.reduce((n, r) => n + r[1].n, 0)} timed dispatches (the timed steps took ${wallMs.toFixed(1)} ms/step wall)`);
  for (const [name, e] of rows.slice(0, 15)) console.log(`  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.ms.toFixed(2).padStart(9)} ms  ${String(e.n).padStart(4)}×  ${name}`);

  // The reducing kernels with subgroup operations against the workgroup tree, one timed step each way.
  if (subgroupReductionsAvailable()) {
    // The kernels built on webgpu-subgroups.ts' reductions (the start-up probe too: it is not in a step, so it times 0).
    const names = reductionKernelNames();
    const reducing = (m: Map<string, { n: number; ms: number }>) => new Map(names.map((k) => [k, (m.get(k)?.ms ?? 0) + (m.get(`${k}-sg`)?.ms ?? 0)]));
    const chosen = subgroupReductions().used;
    const mine = reducing(byName);
    setSubgroupReductions(!chosen);
    step().dispose(); // compiles the other mode's pipelines outside the timed step
    const other = reducing((await timedStep(step)).byName);
    setSubgroupReductions(chosen);
    const [sg, tree] = chosen ? [mine, other] : [other, mine];
    const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
    console.log(`reducing kernels, GPU ms per step: subgroups ${sum(sg).toFixed(2)} vs workgroup tree ${sum(tree).toFixed(2)} (ratio ${(sum(sg) / sum(tree)).toFixed(2)}; training uses ${chosen ? 'subgroups' : 'the tree'}: ${subgroupReductions().why}); by kernel:`);
    for (const k of names) if (tree.get(k)) console.log(`  ${k}: ${sg.get(k)!.toFixed(2)} vs ${tree.get(k)!.toFixed(2)} ms`);
  }

  // The matmuls by shape, from tf.profile (which sees tfjs kernels with their shapes): where tfjs's WGSL
  // matmul reaches what throughput. K = |a| / (batch·M), since a holds batch·M·K values either way round.
  const prof = await tf.profile(() => step());
  (prof.result as tf.Tensor).dispose();
  const mm = new Map<string, { n: number; ms: number; flop: number }>();
  for (const k of prof.kernels.filter((x) => x.name === 'BatchMatMul')) {
    const out = k.outputShapes[0] as number[], a = k.inputShapes[0] as number[];
    const outSize = out.reduce((x, y) => x * y, 1), rows = out.slice(0, -1).reduce((x, y) => x * y, 1);
    const K = a.reduce((x, y) => x * y, 1) / rows;
    const key = `${k.inputShapes.map((sh) => `[${sh}]`).join('×')} (${String(k.extraInfo).split(':')[0]})`;
    const e = mm.get(key) ?? { n: 0, ms: 0, flop: 0 };
    mm.set(key, { n: e.n + 1, ms: e.ms + (k.kernelTimeMs as number), flop: e.flop + 2 * outSize * K });
  }
  const mmRows = [...mm.entries()].sort((x, y) => y[1].ms - x[1].ms);
  const mmMs = mmRows.reduce((t, r) => t + r[1].ms, 0), mmFlop = mmRows.reduce((t, r) => t + r[1].flop, 0);
  console.log(`matmuls: ${mmMs.toFixed(1)} ms, ${(mmFlop / 1e9).toFixed(0)} GFLOP, ${(mmFlop / mmMs / 1e6).toFixed(0)} GFLOP/s overall; by shape:`);
  for (const [key, e] of mmRows.slice(0, 12)) console.log(`  ${e.ms.toFixed(2).padStart(9)} ms  ${String(e.n).padStart(3)}×  ${(e.flop / e.ms / 1e6).toFixed(0).padStart(7)} GFLOP/s  ${key}`);
}

/**
 * GPU milliseconds of our matmul and tfjs's at each of the step's matmul shapes (median of `reps` timed
 * runs each, after one untimed run that compiles), with GFLOP/s and the ratio ours/tfjs's.
 */
async function matmulBench(cfg: ModelConfig, B: number, T: number, reps: number, withTorch: boolean): Promise<void> {
  const tfjs = tfjsBatchMatMul();
  if (!tfjs) throw new Error('webgpu-profile: --matmul-bench needs our matmul registered (MIDTRAIN_WEBGPU_MATMUL is 0?)');
  const gpuMs = async (f: () => tf.TensorInfo): Promise<number> => {
    const dispose = (i: tf.TensorInfo) => tf.engine().makeTensorFromTensorInfo(i).dispose();
    dispose(f());
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      let out: tf.TensorInfo | undefined;
      const t = await tf.time(() => { out = f(); });
      dispose(out!);
      ms.push(t.kernelMs as number);
    }
    return ms.sort((x, y) => x - y)[Math.floor(ms.length / 2)];
  };
  const f16 = webgpuMatmulF16();
  console.log(`matmul GPU time at the step's shapes (median of ${reps}; ours${f16 ? ' with f16 tiles' : ''} vs tfjs's MatMulPackedProgram family):`);
  let oursTotal = 0, tfjsTotal = 0, flopTotal = 0;
  const cases = stepMatmuls(cfg, B, T);
  const torchMs = withTorch ? torchMatmulMs(cases, reps) : undefined;
  const torchTotal: Record<string, number> = {};
  for (const c of cases) {
    const a = tf.randomNormal(c.a), b = tf.randomNormal(c.b);
    const ours = await gpuMs(() => runMatmul(a, b, c.transA, c.transB, { f16 }));
    const theirs = await gpuMs(() => tfjs({ inputs: { a, b }, backend: tf.backend(), attrs: { transposeA: c.transA, transposeB: c.transB } }));
    tf.dispose([a, b]);
    oursTotal += ours; tfjsTotal += theirs; flopTotal += c.flop;
    const gf = (ms: number) => (c.flop / ms / 1e6).toFixed(0).padStart(7);
    const pt = torchMs?.[c.name];
    for (const [m, ms] of Object.entries(pt ?? {})) torchTotal[m] = (torchTotal[m] ?? 0) + ms;
    const ptText = pt ? ` | torch ${Object.entries(pt).map(([m, ms]) => `${m} ${gf(ms).trim()}`).join(', ')} GFLOP/s` : '';
    console.log(`  ${c.name.padEnd(16)} [${c.a}]${c.transA ? 'ᵀ' : ''}·[${c.b}]${c.transB ? 'ᵀ' : ''}`.padEnd(58) + `ours ${ours.toFixed(3).padStart(8)} ms ${gf(ours)} GFLOP/s | tfjs ${theirs.toFixed(3).padStart(8)} ms ${gf(theirs)} GFLOP/s | ${(theirs / ours).toFixed(2)}×${ptText}`);
  }
  for (const [m, ms] of Object.entries(torchTotal)) console.log(`matmul total: torch ${m} ${ms.toFixed(2)} ms (${(flopTotal / ms / 1e6).toFixed(0)} GFLOP/s); ours/torch ${m} speed ratio ${(ms / oursTotal).toFixed(2)}`);
  console.log(`matmul total: ours ${oursTotal.toFixed(2)} ms (${(flopTotal / oursTotal / 1e6).toFixed(0)} GFLOP/s), tfjs ${tfjsTotal.toFixed(2)} ms (${(flopTotal / tfjsTotal / 1e6).toFixed(0)} GFLOP/s): ours/tfjs speed ratio ${(tfjsTotal / oursTotal).toFixed(2)}`);
}

/** PyTorch's CUDA matmul time (ms) per case and precision (bench/torch_matmul.py), or undefined with a note. */
function torchMatmulMs(cases: MatmulCase[], reps: number): Record<string, Record<string, number>> | undefined {
  const py = process.env.MIDTRAIN_PYTHON ?? 'python3';
  const job = JSON.stringify({ cases: cases.map(({ name, a, b, transA, transB }) => ({ name, a, b, transA, transB })), reps });
  const r = spawnSync(py, [path.join(projectRoot(), 'bench', 'torch_matmul.py'), job], { encoding: 'utf8' });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let out: { ms?: Record<string, Record<string, number>>; error?: string; device?: string; torch?: string } = {};
  try { out = JSON.parse(last); } catch { out = { error: (r.stderr || r.error?.message || 'no output').trim().split('\n').pop() }; }
  if (!out.ms) { console.log(`torch matmul: not measured (${out.error})`); return undefined; }
  console.log(`torch ${out.torch} on ${out.device}: matmul times per precision below (fp32 = TF32 off)`);
  return out.ms;
}

/** The losses of `steps` AdamW steps from seed-1 weights on the given batches, on the active backend. */
async function lossCurve(cfg: ModelConfig, batches: Batch[]): Promise<number[]> {
  const params = initParams(cfg, 1);
  const opt = new AdamW(params, OPT);
  const losses: number[] = [];
  for (const [i, b] of batches.entries()) losses.push((await readStepStats(optimizerStep(params, cfg, opt, OPT.lr, OPT.gradClip, function* () { yield b; }, 1), 'check', i + 1)).loss);
  opt.dispose();
  disposeParams(params);
  return losses;
}

/**
 * Host CPU per step with step replay off and on (MIDTRAIN_WEBGPU_REPLAY), in `pairs` alternating blocks of
 * `steps` steps each (one untimed step first per block), so both see the same machine load. Prints each
 * block's CPU ms/step, the calls per step of each variant, and the on/off ratio per pair and its median.
 */
async function replayCompare(pairs: number, steps: number, step: (i: number) => Promise<void>, drain: () => Promise<void>, opt: AdamW): Promise<void> {
  const prev = process.env.MIDTRAIN_WEBGPU_REPLAY;
  let i = 1000;
  const block = async (on: boolean): Promise<number> => {
    process.env.MIDTRAIN_WEBGPU_REPLAY = on ? '1' : '0';
    // Untimed: replay off frees the recording; on records two steps again before it replays.
    for (let k = 0; k < (on ? 3 : 1); k++) await step(i++);
    await drain();
    const cpu0 = process.cpuUsage();
    for (let k = 0; k < steps; k++) await step(i++);
    await drain();
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / 1000 / steps;
  };
  try {
    // Replay turned off frees the recording; turned on it records two steps before it replays: warm-up first.
    for (const on of [false, true]) {
      process.env.MIDTRAIN_WEBGPU_REPLAY = on ? '1' : '0';
      for (let k = 0; k < (on ? 3 : 1); k++) await step(i++);
      await drain();
      const { counts } = await countWebgpuCalls(async () => { for (let k = 0; k < steps; k++) await step(i++); await drain(); });
      const c = perStep(counts, steps);
      console.log(`replay ${on ? 'on ' : 'off'} per step: ${c.kernels} kernels, ${c.dispatches} dispatches, ${c.submits} submits, ${c.createBuffer} createBuffer, ${c.createBindGroup} bind groups, ${c.writeBuffer} writeBuffer, ${c.mapAsync} readbacks`);
    }
    const off: number[] = [], on: number[] = [];
    for (let p = 0; p < pairs; p++) {
      off.push(await block(false));
      on.push(await block(true));
      console.log(`pair ${p + 1}: host CPU per step replay off ${off[p].toFixed(1)} ms, on ${on[p].toFixed(1)} ms (on/off ${(on[p] / off[p]).toFixed(3)}); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
    if (webgpuErrorCount() > 0) throw new Error(`${webgpuErrorCount()} WebGPU errors (out of the null device's memory?): the numbers above are not valid`);
    const median = (x: number[]) => [...x].sort((u, v) => u - v)[Math.floor(x.length / 2)];
    const ratios = on.map((x, p) => x / off[p]);
    console.log(`replay: ${JSON.stringify(replayStats(opt))}`);
    console.log(`host CPU per step (median of ${pairs} blocks of ${steps} steps, alternating): replay off ${median(off).toFixed(1)} ms, on ${median(on).toFixed(1)} ms; on/off ratio median ${median(ratios).toFixed(3)} (per pair ${ratios.map((r) => r.toFixed(3)).join(', ')}); ${os.cpus().length} cores`);
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_REPLAY;
    else process.env.MIDTRAIN_WEBGPU_REPLAY = prev;
  }
}

const OPT: OptimConfig = { lr: 3e-4, minLr: 3e-5, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const preset = (a.preset ?? 'tiny') as PresetName;
  if (!MODEL_PRESETS[preset]) throw new Error(`webgpu-profile: --preset ${preset} is not one of ${Object.keys(MODEL_PRESETS).join(', ')}`);
  const base = MODEL_PRESETS[preset];
  const cfg: ModelConfig = {
    ...base,
    dModel: int(a, 'd', base.dModel), nLayers: int(a, 'layers', base.nLayers), nHeads: int(a, 'heads', base.nHeads),
    vocabSize: int(a, 'vocab', base.vocabSize), contextLength: int(a, 'context', Math.min(base.contextLength, 512)),
  };
  const B = int(a, 'batch', 8), T = cfg.contextLength, steps = int(a, 'steps', 4), warmup = int(a, 'warmup', 2);
  if (a['null-device']) process.env.MIDTRAIN_WEBGPU_NULL = '1';
  const report = await initBackend({ backend: (a.backend ?? 'webgpu') as never });
  console.log(`model d=${cfg.dModel} layers=${cfg.nLayers} heads=${cfg.nHeads} vocab=${cfg.vocabSize} T=${T} B=${B}: ${countParams(cfg).toLocaleString('en-US')} params`);
  const adapter = webgpuAdapter();
  if (adapter) console.log(`adapter: ${adapter.name}; features: ${adapter.features.join(', ') || 'none'} (no chromium-experimental-subgroup-matrix listed = no cooperative matrices through Dawn)`);
  if (adapter?.subgroups) console.log(`subgroup reductions: ${adapter.subgroups.used ? 'used' : 'not used'} (${adapter.subgroups.why})`);
  const limits = webgpuDevice()?.limits;
  if (limits) console.log(`device limits: largest storage binding ${limits.maxStorageBufferBindingSize.toLocaleString('en-US')} B, largest buffer ${limits.maxBufferSize.toLocaleString('en-US')} B`);
  // A tensor beyond the device's largest binding would only be reported once, then read as zeros.
  assertStepFits(cfg, B, T, '--batch');
  if (a['matmul-bench']) {
    if (report.name !== 'webgpu') throw new Error('webgpu-profile: --matmul-bench needs the webgpu backend');
    await matmulBench(cfg, B, T, int(a, 'reps', 5), a.torch === 'true');
    releaseBackend();
    return;
  }

  const rng = new Rng(1);
  const batch = (): Batch => ({
    inputs: Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize)),
    targets: Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize)),
    B, T,
  });
  if (a['check-losses']) {
    const batches = Array.from({ length: steps }, batch);
    const gpu = await lossCurve(cfg, batches);
    releaseBackend();
    await initBackend({ backend: 'cpu', quiet: true });
    const cpu = await lossCurve(cfg, batches);
    releaseBackend();
    const worst = Math.max(...gpu.map((l, i) => Math.abs(l - cpu[i]) / Math.max(1, Math.abs(cpu[i]))));
    console.log(`losses ${report.name}: ${gpu.map((l) => l.toFixed(6)).join(' ')}`);
    console.log(`losses cpu:    ${cpu.map((l) => l.toFixed(6)).join(' ')}`);
    const ok = worst <= 1e-4 && gpu.every(Number.isFinite);
    console.log(`loss check: worst relative difference ${worst.toExponential(2)} (tolerance 1e-4): ${ok ? 'agree' : 'DISAGREE'}`);
    if (!ok) process.exitCode = 1;
    return;
  }
  const params = initParams(cfg, 1);
  const opt = new AdamW(params, OPT);
  // The engine's step (optimizerStep: gradients, clipping, AdamW) and its readback, as src/train/pretrain.ts
  // runs them: on a device that runs ahead, step s's loss is read after step s+1 is recorded.
  const runsAhead = deviceRunsAhead();
  let recordMs = 0;
  let pending: Promise<{ loss: number }> | undefined;
  let last = NaN;
  const step = async (i: number) => {
    const b = batch();
    const t = performance.now();
    const stats = optimizerStep(params, cfg, opt, OPT.lr, OPT.gradClip, function* () { yield b; }, 1);
    recordMs += performance.now() - t;
    const read = readStepStats(stats, 'profile', i + 1);
    read.catch(() => { /* awaited below */ });
    if (pending) last = (await pending).loss;
    pending = runsAhead ? read : undefined;
    if (!runsAhead) last = (await read).loss;
  };
  const drain = async () => {
    if (pending) last = (await pending).loss;
    pending = undefined;
  };
  const tw = Date.now();
  for (let i = 0; i < warmup; i++) await step(i);
  await drain();
  console.log(`warmup: ${warmup} steps in ${((Date.now() - tw) / 1000).toFixed(1)} s (shader compiles, first allocations)`);
  if (a['replay-compare']) {
    await replayCompare(int(a, 'replay-compare', 3), steps, step, drain, opt);
    opt.dispose();
    disposeParams(params);
    releaseBackend();
    return;
  }
  const tensorsBefore = tf.memory().numTensors;
  // Counted steps first: the counters wrap every WebGPU call, which costs host time of its own, so the
  // timed steps after them run unwrapped.
  const { counts } = await countWebgpuCalls(async () => { for (let i = 0; i < steps; i++) await step(warmup + i); await drain(); });
  const c = perStep(counts, steps);
  const t0 = Date.now(), cpu0 = process.cpuUsage();
  recordMs = 0;
  const timed = async () => { for (let i = 0; i < steps; i++) await step(warmup + steps + i); await drain(); };
  let profile: CpuProfile | undefined;
  if (a['cpu-profile']) ({ profile } = await profiled(timed));
  else await timed();
  const ms = (Date.now() - t0) / steps;
  const cpu = process.cpuUsage(cpu0), cpuMs = (cpu.user + cpu.system) / 1000 / steps;
  console.log(`per step: ${c.kernels} kernels, ${c.dispatches} dispatches, ${c.submits} submits, ${c.createBuffer} createBuffer, ${c.createBindGroup} bind groups, ${c.writeBuffer} writeBuffer, ${c.mapAsync} readbacks, ${c.createComputePipeline} pipelines`);
  console.log(`top kernels/step: ${Object.entries(c.byKernel).slice(0, 12).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`tensors leaked per step: ${(tf.memory().numTensors - tensorsBefore) / (2 * steps)}; last loss ${last.toFixed(4)}`);
  if (report.name === 'webgpu') {
    const rec = recordMs / steps;
    console.log(`host records a step in ${rec.toFixed(1)} ms of ${ms.toFixed(1)} ms/step wall (${((100 * rec) / ms).toFixed(0)}%; ${runsAhead ? 'loss read one step late' : 'loss read at once'}): near 100% the host is the bottleneck, far below it the GPU is`);
    // CPU time is the host's work even on a machine shared with other jobs (wall time there includes waiting for a core).
    console.log(`host CPU per step: ${cpuMs.toFixed(1)} ms (user + system, all of this process's threads)`);
  }
  console.log(`${report.name}: ${ms.toFixed(1)} ms/step, ${((B * T) / (ms / 1000)).toFixed(0)} tokens/s`);
  if (a['kernel-times'] && report.name === 'webgpu') await kernelTimes(() => optimizerStep(params, cfg, opt, OPT.lr, OPT.gradClip, function* () { yield batch(); }, 1), ms);
  if (profile) {
    const tmp = `${a['cpu-profile']}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(profile));
    fs.renameSync(tmp, a['cpu-profile']);
    console.log(`cpu profile of the timed steps (${a['cpu-profile']}), top self time:\n  ${topSelfTime(profile, 20).join('\n  ')}`);
  }
  opt.dispose();
  disposeParams(params);
  releaseBackend();
}

main().catch((e) => {
  console.error(`webgpu-profile: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
