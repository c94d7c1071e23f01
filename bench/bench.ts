// `npm run bench [-- --quick] [--config tiny|small] [--backend wasm|...] [--steps N]`
// Trains the same GPT config for a fixed number of steps with the chosen tfjs backend (through the real
// pretraining loop: sampler, micro-batches, AdamW, clipping) and with the PyTorch reference on the same
// machine, then prints tokens/s and peak RSS for each and, as the last line, the ratio. Not a test: numbers
// vary with the machine and its load.
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { initBackend, parseBackendName, formatBackendReport } from '../src/backend/choose';
import { MODEL_PRESETS, countParams } from '../src/model/presets';
import { pretrain } from '../src/train/pretrain';
import { rowsThatFit } from '../src/backend/webgpu-fit';
import { projectRoot } from '../src/config';
import type { ModelConfig, OptimConfig, PretrainConfig } from '../src/runs/types';
import type { TokenShard } from '../src/data/types';
import { Rng } from '../src/rng';
import { openblasCoreHint } from '../src/backend/native-addon';

/** The OpenBLAS core type both sides run with: the user's choice, else the hint the native backend uses. */
function openblasCoreType(): string | undefined {
  return process.env.OPENBLAS_CORETYPE ?? openblasCoreHint();
}

interface BenchConfig {
  model: ModelConfig;
  batch: number;
  microBatch: number;
  steps: number;
  warmup: number;
}

const CONFIGS: Record<string, BenchConfig> = {
  // B 16 × T 128 = 2k tokens per step
  tiny: { model: MODEL_PRESETS.tiny, batch: 16, microBatch: 16, steps: 10, warmup: 2 },
  // the "small" benchmark shape: V 8192, d 256, 6 layers, T 256, B 16 — as 2 micro-batches of 8: one forward of
  // 16 × 256 tokens needs more than wasm's 4 GB heap (measured: 8 × 256 peaks at 3.1 GB).
  small: { model: MODEL_PRESETS.small, batch: 16, microBatch: 8, steps: 5, warmup: 1 },
  // GPU: the Pythia-70M shape (d 512, 6 layers, 8 heads, V 50304) at context 512, B 16 = 8k tokens/step
  'pythia-70m': { model: { ...MODEL_PRESETS['pythia-70m'], contextLength: 512 }, batch: 16, microBatch: 16, steps: 10, warmup: 3 },
};

/** Backends that run on a GPU: the PyTorch side then runs on CUDA too (when it has CUDA). */
const GPU_BACKENDS = new Set(['webgpu', 'tensorflow']);

const OPTIM: OptimConfig = { lr: 3e-4, minLr: 3e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };

const TORCH_PRECISIONS = ['fp32', 'tf32', 'bf16', 'fp16'];

function parseArgs(argv: string[]): { config: string; backend?: string; steps?: number; quick: boolean; torchPrecisions: string[] } {
  const out: { config: string; backend?: string; steps?: number; quick: boolean; torchPrecisions: string[] } = { config: 'small', quick: false, torchPrecisions: ['fp32'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--quick') out.quick = true;
    else if (a === '--config') out.config = val();
    else if (a === '--backend') out.backend = val();
    else if (a === '--steps') out.steps = Number(val());
    else if (a === '--torch-precisions') out.torchPrecisions = val().split(',');
    else throw new Error(`bench: unknown argument ${a} (use --quick, --config tiny|small, --backend NAME, --steps N, --torch-precisions fp32,tf32,bf16,fp16)`);
  }
  if (out.quick && !argv.includes('--config')) out.config = 'tiny';
  if (!(out.config in CONFIGS)) throw new Error(`bench: --config ${out.config}: use one of ${Object.keys(CONFIGS).join(', ')}`);
  const bad = out.torchPrecisions.find((p) => !TORCH_PRECISIONS.includes(p));
  if (bad !== undefined) throw new Error(`bench: --torch-precisions: ${bad} is not one of ${TORCH_PRECISIONS.join(', ')}`);
  if (out.steps !== undefined && !(Number.isInteger(out.steps) && out.steps > 0)) throw new Error(`bench: --steps must be a positive integer`);
  return out;
}

function randomShard(vocab: number, n: number): TokenShard {
  const r = new Rng(3);
  const tokens = Uint16Array.from({ length: n }, () => r.int(vocab));
  return { path: 'memory:bench', numTokens: n, read: (s, l) => tokens.subarray(s, s + l) };
}

async function benchTfjs(b: BenchConfig): Promise<{ tokensPerSec: number; secondsPerStep: number; peakRssMB: number; lastLoss: number }> {
  const shard = randomShard(b.model.vocabSize, 1 << 20);
  const config: PretrainConfig = {
    kind: 'pretrain', name: 'bench', preset: 'tiny', model: b.model, optim: OPTIM, totalSteps: b.warmup + b.steps,
    batchSize: b.batch, microBatch: b.microBatch, mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    evalEvery: 1 << 30, evalTokens: 1, seed: 1,
  };
  let t0 = 0;
  let lastLoss = NaN;
  const rows = rowsThatFit(b.model, b.microBatch, b.model.contextLength, 'bench');
  if (rows < b.microBatch) console.log(`[bench] micro-batch ${b.microBatch} × ${b.model.contextLength} is computed in pieces of ${rows} rows: its logits exceed what this device can bind in one buffer`);
  // syncAt: the warmup's last step is finished (not just recorded) when its log starts the clock.
  for await (const log of pretrain(config, { shards: { general: { train: shard, val: shard } }, skipEval: true, syncAt: (s) => s === b.warmup })) {
    if (log.step === b.warmup) t0 = performance.now();
    lastLoss = log.trainLoss;
  }
  const dt = (performance.now() - t0) / 1000;
  return { tokensPerSec: (b.steps * b.batch * b.model.contextLength) / dt, secondsPerStep: dt / b.steps, peakRssMB: process.resourceUsage().maxRSS / 1024, lastLoss };
}

function benchTorch(b: BenchConfig, device: 'cpu' | 'cuda', precisions: string[]): { tokensPerSec: number; secondsPerStep: number; peakRssMB: number; threads: number; torch: string; lastLoss: number; device?: string; precision?: string; byPrecision?: Record<string, { tokensPerSec: number; lastLoss: number }> } {
  const job = { model: b.model, optim: OPTIM, batch: b.batch, steps: b.steps, warmup: b.warmup, threads: os.availableParallelism(), device, precisions };
  // MIDTRAIN_PYTHON: a python whose torch has CUDA, on GPU machines (Debian's python3-torch is CPU-only).
  const py = process.env.MIDTRAIN_PYTHON ?? '/usr/bin/python3';
  // Both sides must use the same BLAS kernels: Debian's OpenBLAS misdetects some recent Xeons and falls back to
  // SSE3 kernels unless OPENBLAS_CORETYPE is set, and the native backend sets it for itself at load time.
  const core = openblasCoreType();
  const env: NodeJS.ProcessEnv = core ? { ...process.env, OPENBLAS_CORETYPE: core } : process.env;
  const r = spawnSync(py, [path.join(projectRoot(), 'bench', 'torch_bench.py'), JSON.stringify(job)], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`bench: PyTorch side failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const b = { ...CONFIGS[args.config] };
  // --quick: fewest steps that still time steady state (one warmup step absorbs first-call allocations).
  if (args.quick) Object.assign(b, { steps: Math.min(b.steps, 3), warmup: 1 });
  if (args.steps) b.steps = args.steps;
  const report = await initBackend({ backend: args.backend ? parseBackendName(args.backend, '--backend') : undefined, quiet: true });
  const m = b.model;
  console.log(`config ${args.config}: V ${m.vocabSize}, d ${m.dModel}, ${m.nLayers} layers, ${m.nHeads} heads, T ${m.contextLength}, B ${b.batch} (micro ${b.microBatch}); ${countParams(m).toLocaleString('en-US')} params; ${b.steps} timed steps after ${b.warmup} warmup`);
  console.log(formatBackendReport(report));
  console.log(`OpenBLAS core type for both sides: ${openblasCoreType() ?? 'auto-detected'}`);
  const tj = await benchTfjs(b);
  console.log(`tfjs (${report.name}): ${tj.tokensPerSec.toFixed(0)} tokens/s, ${tj.secondsPerStep.toFixed(3)} s/step, peak RSS ${tj.peakRssMB.toFixed(0)} MB, last loss ${tj.lastLoss.toFixed(3)}`);
  const pt = benchTorch(b, GPU_BACKENDS.has(report.name) ? 'cuda' : 'cpu', args.torchPrecisions);
  console.log(`pytorch ${pt.torch} (${pt.device && pt.device !== 'cpu' ? pt.device : `${pt.threads} threads`}): ${pt.tokensPerSec.toFixed(0)} tokens/s, ${pt.secondsPerStep.toFixed(3)} s/step, peak RSS ${pt.peakRssMB.toFixed(0)} MB, last loss ${pt.lastLoss.toFixed(3)}`);
  // Other PyTorch precisions first (CUDA only), so that the last line stays the strict-fp32 ratio.
  for (const [mode, r] of Object.entries(pt.byPrecision ?? {}).filter(([m]) => m !== pt.precision)) {
    console.log(`pytorch ${mode}: ${r.tokensPerSec.toFixed(0)} tokens/s, last loss ${r.lastLoss.toFixed(3)}; tokens/s ratio (tfjs/pytorch ${mode}): ${(tj.tokensPerSec / r.tokensPerSec).toFixed(3)}`);
  }
  const f16 = process.env.MIDTRAIN_WEBGPU_F16 === '1' ? ' with f16 matmul tiles' : '';
  console.log(`tokens/s ratio (tfjs${f16}/pytorch${pt.precision && pt.precision !== 'fp32' ? ` ${pt.precision}` : ''}): ${(tj.tokensPerSec / pt.tokensPerSec).toFixed(3)}`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
