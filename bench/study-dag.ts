// `npm run bench:study -- [--preset small] [--jobs N|auto] [--backend webgpu|native|…]
//    [--experiments baseline,midtraining] [--max-runs N] [--budget SECONDS] [--cache DIR] [--seed N]`
// (or `node dist/bench/study-dag.js …`; in the GPU check bundle, `bench/study-dag.js`).
// The study-shaped workload: a preset's whole run DAG (same model, steps, batches and SFT sizes as
// `npm run report -- --preset P --jobs N` trains) on synthetic data with the shapes of the preset's real data
// (src/data/synthetic: data/shapes/<preset>.json), generated here in a scratch cache, trained by the study's
// own worker processes (experiments/workers.ts), timed. For machines where the real corpus cannot be built
// (the GPU check: no network); the timing does not depend on the text.
// Prints the plan's cost line, the wall time, the study throughput line and the runs trained; with --budget,
// stops the workers when the time is spent and says how many runs finished in it. Beside that, the CPU
// reference for the same runs: the cost model's estimate for two one-thread workers on the 2-core machine
// (planCost with SMALL_CPU_COSTS, calibrated on the small study's own runs there). Not a test.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { PRESETS, type PresetName } from '../src/config';
import { parseBackendName } from '../src/backend/choose';
import { writeSyntheticData } from '../src/data/synthetic/build';
import { autoJobs } from '../src/experiments/jobs';
import { studyRuns, trainAll } from '../src/experiments/workers';
import { experimentPlan } from '../src/experiments/run';
import { planCost, SMALL_CPU_COSTS } from '../src/experiments/plan';
import { EXPERIMENT_NAMES, type ExperimentName } from '../src/experiments/definitions';
import { getRun } from '../src/runs/store';

interface Args { preset: PresetName; jobs: number | 'auto'; backend?: string; experiments?: ExperimentName[]; maxRuns?: number; budget?: number; cache?: string; seed: number }

const USAGE = 'usage: study-dag [--preset tiny|small] [--jobs N|auto] [--backend NAME] [--experiments a,b] [--max-runs N] [--budget SECONDS] [--cache DIR] [--seed N]';

function parseArgs(argv: string[]): Args {
  const out: Args = { preset: 'small', jobs: 'auto', seed: 0 };
  const positiveInt = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`study-dag: ${flag} expects a whole number ≥ 1, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`study-dag: ${a} needs a value (${USAGE})`); return v; };
    if (a === '--preset') {
      const v = val();
      if (!(PRESETS as readonly string[]).includes(v)) throw new Error(`study-dag: --preset ${v}: use one of ${PRESETS.join(', ')}`);
      out.preset = v as PresetName;
    } else if (a === '--jobs') { const v = val(); out.jobs = v === 'auto' ? 'auto' : positiveInt(a, v); }
    else if (a === '--backend') out.backend = parseBackendName(val(), '--backend');
    else if (a === '--experiments') {
      out.experiments = val().split(',') as ExperimentName[];
      const bad = out.experiments.find((e) => !EXPERIMENT_NAMES.includes(e));
      if (bad !== undefined) throw new Error(`study-dag: --experiments: "${bad}" is not an experiment (known: ${EXPERIMENT_NAMES.join(', ')})`);
    } else if (a === '--max-runs') out.maxRuns = positiveInt(a, val());
    else if (a === '--budget') {
      const v = val();
      out.budget = Number(v);
      if (!(out.budget > 0)) throw new Error(`study-dag: --budget expects seconds > 0, got "${v}"`);
    } else if (a === '--cache') out.cache = path.resolve(val());
    else if (a === '--seed') { const v = val(); out.seed = Number(v); if (!Number.isInteger(out.seed)) throw new Error(`study-dag: --seed expects an integer, got "${v}"`); }
    else throw new Error(`study-dag: unknown argument ${a} (${USAGE})`);
  }
  return out;
}

const say = (s: string) => console.log(`[study-dag] ${s}`);
const hours = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** Samples the first NVIDIA GPU's utilisation and memory every 2 s while the study trains (nothing where there is no nvidia-smi). */
function gpuSampler(): { stop(): string | undefined } {
  const busy: number[] = [];
  let memory = 0;
  const sample = () => {
    try {
      const out = execFileSync('nvidia-smi', ['--query-gpu=utilization.gpu,memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      const [u, m] = out.trim().split('\n')[0].split(',').map(Number);
      if (Number.isFinite(u)) busy.push(u);
      if (Number.isFinite(m)) memory = Math.max(memory, m);
      return true;
    } catch { return false; }
  };
  if (!sample()) return { stop: () => undefined };
  const timer = setInterval(sample, 2000);
  return {
    stop: () => {
      clearInterval(timer);
      const mean = busy.reduce((a, b) => a + b, 0) / Math.max(1, busy.length);
      return `GPU utilisation (nvidia-smi, every 2 s): mean ${mean.toFixed(0)}%, ${busy.length} samples; peak memory used ${memory} MiB`;
    },
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  // Everything below, and the workers, see these: the scratch cache, no data config, the backend.
  const scratch = !args.cache;
  const cache = args.cache ?? fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-study-dag-'));
  process.env.MIDTRAIN_CACHE = cache;
  delete process.env.MIDTRAIN_DATA_CONFIG;
  if (args.backend) process.env.MIDTRAIN_BACKEND = args.backend;
  try {
    say(`preset ${args.preset}, backend ${args.backend ?? 'chosen (MIDTRAIN_BACKEND or the chooser)'}, cache ${cache}${scratch ? ' (scratch, removed at the end)' : ''}`);
    const dir = await writeSyntheticData(args.preset, { seed: args.seed, log: (s) => say(`data: ${s}`) });
    say(`synthetic data with the real data's shapes in ${dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    let jobs: number;
    if (args.jobs === 'auto') {
      const choice = await autoJobs(args.preset);
      say(`--jobs auto: ${choice.why}`);
      jobs = choice.jobs;
    } else jobs = args.jobs;

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    if (args.budget !== undefined) {
      const left = args.budget - (Date.now() - t0) / 1000;
      timer = setTimeout(() => { say(`the ${args.budget} s budget is spent`); controller.abort(); }, Math.max(0, left) * 1000);
    }
    const gpu = gpuSampler();
    const tTrain = Date.now();
    const r = await trainAll(args.preset, { jobs, experiments: args.experiments, maxRuns: args.maxRuns, signal: controller.signal, log: (l) => console.log(l) }).finally(() => clearTimeout(timer));
    const wall = (Date.now() - tTrain) / 1000;
    const gpuLine = gpu.stop();

    // The CPU reference for exactly the runs that finished: the cost model's estimate on the 2-core machine.
    const runs = await studyRuns(args.preset, args.experiments, args.maxRuns);
    const finished = new Set(runs.filter((x) => getRun(x.id)?.status === 'finished').map((x) => x.id));
    const plans = (await Promise.all((args.experiments ?? EXPERIMENT_NAMES).map((name) => experimentPlan(name, args.preset)))).map((p) => ({ ...p, runs: p.runs.filter((x) => finished.has(x.id)) }));
    const cpu = planCost(plans, {}, SMALL_CPU_COSTS).seconds!.total;

    say(`${r.stopped ? 'stopped at the budget' : 'done'}: ${finished.size} of ${r.runs} runs finished (${r.trained} trained now, ${r.finishedBefore} before), ${jobs} worker${jobs === 1 ? '' : 's'}, training wall time ${wall.toFixed(1)} s (${((Date.now() - t0) / 1000).toFixed(1)} s with the data)`);
    if (gpuLine) say(gpuLine);
    if (finished.size > 0) {
      say(`CPU reference for these ${finished.size} runs: ${hours(cpu)} of worker time by the cost model (SMALL_CPU_COSTS, one thread a worker), ≈ ${hours(cpu / 2)} wall with 2 workers on the 2-core machine${args.preset === 'small' ? '' : ' (rough: the model is calibrated on the small preset)'}; here ${hours(wall)}${r.trained === finished.size && args.preset === 'small' ? ` (${(cpu / 2 / wall).toFixed(1)}× the 2-core estimate)` : ''}`);
    }
    return 0;
  } finally {
    if (scratch) fs.rmSync(cache, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(msg.startsWith('study-dag:') ? msg : `study-dag: ${msg}`);
  process.exit(1);
});
