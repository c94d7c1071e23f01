// How many worker processes a study runs at once (`npm run report -- --jobs auto`). On CPU backends: one per
// core, each with one native thread (two one-thread workers did ≈ 1.6× the work of one two-thread process on
// the 2-core machine: docs/experiments.md), as many as the machine's memory holds. On a GPU: as many as the
// GPU's memory holds, at most one per core, since each worker's host side (tfjs bookkeeping, encoding the
// dispatches) needs a core of its own while the GPU runs the others' work. Memory per run is an estimate
// from the model and batch shapes, stated in the reason so a user can override it with --jobs N.
import * as os from 'os';
import * as path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import type { PresetName } from '../config';
import type { ModelConfig } from '../runs/types';
import { countParams, mlpHidden } from '../model/presets';
import { scaleFor } from './scale';

/** Bytes one training run holds: on the device that trains it, and in the worker process's own memory. */
export interface RunMemory { device: number; host: number }

/** Node, tfjs and the data readers of a worker before any tensor (measured RSS of an idle worker is ~150–250 MB). */
const WORKER_BASE_BYTES = 300e6;
/** tfjs keeps freed buffers in pools and holds a step's intermediates until the tape is disposed: a margin over the count below. */
const POOL_FACTOR = 1.5;

/**
 * A run's memory from its shapes: weights, gradients and two Adam moments (16 bytes a parameter), and the
 * activations the backward pass keeps for one micro-batch — per token and layer about 16·d floats (norms,
 * q/k/v, attention output, the MLP's hidden layer before and after GELU, residuals) plus one attention row per
 * head (T floats), and the logits with their softmax and gradient (3·V floats) — times POOL_FACTOR.
 */
export function runMemory(model: ModelConfig, microBatch: number): RunMemory {
  const P = countParams(model);
  const T = model.contextLength;
  const perTokenFloats = model.nLayers * (8 * model.dModel + 2 * mlpHidden(model) + model.nHeads * T) + 3 * model.vocabSize;
  const training = 16 * P + 4 * microBatch * T * perTokenFloats;
  const device = Math.ceil(POOL_FACTOR * training);
  return { device, host: WORKER_BASE_BYTES + device };
}

export interface JobsChoice { jobs: number; why: string }

const gb = (x: number) => `${(x / 1e9).toFixed(x < 1e9 ? 2 : 1)} GB`;

/**
 * The number of workers for a study: CPU backends one per core within the host's memory; a GPU (`gpu`
 * given) as many as its memory holds (80% of it, leaving room for the driver and fragmentation), at most
 * one per core; never fewer than one. `gpu.memoryBytes` undefined: not known (then at most 4, said so).
 */
export function chooseJobs(o: { cpus: number; hostMemoryBytes: number; run: RunMemory; gpu?: { name: string; memoryBytes?: number } }): JobsChoice {
  const byHost = Math.floor((0.8 * o.hostMemoryBytes) / o.run.host);
  if (!o.gpu) {
    const jobs = Math.max(1, Math.min(o.cpus, byHost));
    const limit = jobs === o.cpus ? `one per core (${o.cpus})` : `${gb(o.hostMemoryBytes)} of memory holds ${byHost} at ≈ ${gb(o.run.host)} each`;
    return { jobs, why: `${jobs} worker${jobs === 1 ? '' : 's'} × 1 thread on the CPU: ${limit}` };
  }
  if (o.gpu.memoryBytes === undefined) {
    const jobs = Math.max(1, Math.min(o.cpus, byHost, 4));
    return { jobs, why: `${jobs} worker${jobs === 1 ? '' : 's'} on ${o.gpu.name}: its memory is unknown (no nvidia-smi), so at most 4 (≈ ${gb(o.run.device)} of device memory per run); pass --jobs N to choose` };
  }
  const byGpu = Math.floor((0.8 * o.gpu.memoryBytes) / o.run.device);
  const jobs = Math.max(1, Math.min(o.cpus, byGpu, byHost));
  const limit = jobs === o.cpus && byGpu >= o.cpus ? `one per core (${o.cpus}); the GPU's ${gb(o.gpu.memoryBytes)} would hold ${byGpu}`
    : byGpu <= byHost ? `80% of its ${gb(o.gpu.memoryBytes)} holds ${byGpu} at ≈ ${gb(o.run.device)} each`
    : `host memory (${gb(o.hostMemoryBytes)}) holds ${byHost}`;
  return { jobs, why: `${jobs} worker${jobs === 1 ? '' : 's'} on ${o.gpu.name}: ${limit}` };
}

/** Total memory of the first NVIDIA GPU from nvidia-smi (bytes), or undefined where there is none. */
export function nvidiaGpuMemoryBytes(): number | undefined {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const mib = Number(out.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib > 0 ? mib * 1024 * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** This machine's cores and memory. */
export function machine(): { cpus: number; hostMemoryBytes: number } {
  return { cpus: os.cpus().length, hostMemoryBytes: os.totalmem() };
}

/**
 * The backend a study's worker starts (with this process's environment), asked of a worker process. Not started
 * here: a Dawn device started and released in this process crashed it later (a segfault while trainAll ran).
 */
export function workerBackend(): { name: string; detail: string } {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'worker-main.js'), '--probe-backend'], { encoding: 'utf8', timeout: 300_000 });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`jobs: the workers' backend could not be probed (${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()})`);
  return JSON.parse(last) as { name: string; detail: string };
}

/** `--jobs auto` for a preset's study: the backend the workers will pick and this machine decide. */
export async function autoJobs(preset: PresetName): Promise<JobsChoice> {
  const backend = workerBackend();
  const onGpu = backend.name === 'webgpu' || (backend.name === 'tensorflow' && /gpu|cuda/i.test(backend.detail));
  const s = scaleFor(preset);
  return chooseJobs({
    ...machine(),
    run: runMemory(s.model, Math.max(s.pretrain.microBatch, s.sft.batchSize)),
    ...(onGpu ? { gpu: { name: `${backend.name} (${backend.detail})`, memoryBytes: nvidiaGpuMemoryBytes() } } : {}),
  });
}
