// `midtrain` — headless work on the run store (nanoGPT's train.py, as commands):
//   midtrain run <config.json | tiny-demo>   train / resume / reuse one run (or the built-in demo chain)
//   midtrain sweep <sweep.json>              a list of runs, parents first, skipping finished ones
//   midtrain status                          every run in the store: lineage, progress, curves
//   midtrain reproduce <report> [runs…]      re-train runs of a committed report in a scratch store, compare its numbers
// Each command is one function; `sweep --slurm` and `status <sweep.json>` go to src/runs/slurm-cli.ts.
import * as fs from 'fs';
import type { PresetName } from './config';
import type { PretrainConfig, RunConfig, RunRecord, SftConfig, StepLog } from './runs/types';
import { getOrRun, scanRuns, readMetrics, runId, runStatus, storeRoot, type StoreData } from './runs/store';
import { validateRunConfig } from './runs/validate';
import { initBackend, parseBackendName, formatBackendReport, releaseBackend } from './backend/choose';
import { ensureData } from './data';
import { SCALES } from './experiments/scale';
import { describeFailures, reproduceCaption, reproduceReport } from './report/reproduce';
import { tableText } from './report/display';
import { printSlurmSection, readSweepFile, slurmSweepCommand, statusCommand as slurmStatusCommand, SLURM_USAGE } from './runs/slurm-cli';

const USAGE = `usage: midtrain <command> [--backend NAME] [--quiet]
  run <config.json | tiny-demo>   train, resume or reuse a run (tiny-demo: pretrain → midtrain → SFT on the tiny preset)
  sweep <sweep.json>              run { "name", "runs": RunConfig[] } parents first; finished runs are skipped
  status                          every run in the store (${'$'}MIDTRAIN_CACHE/runs): lineage, progress, loss curves
  reproduce <report folder | runs.json> [run ids or names…] [--stale] [--keep]
                                  re-train the named runs (and the ancestors they need) in a fresh scratch store and
                                  compare every committed summary number; exit 1 beyond tolerance (--stale: even when
                                  the report's ids no longer re-derive under this code; --keep: keep the scratch store)
${SLURM_USAGE}`;

// ---------------------------------------------------------------------------------------------------------
// The built-in demo chain

/**
 * tiny-demo: the whole protocol in miniature on the tiny preset — a general-only baseline keeping the paper's
 * branch points, midtraining that branches at 10% with 20% code, then SFT of the midtrained model on pycode.
 * Sizes come from the tiny experiment scale, so the baseline is the same run the tiny notebooks use.
 */
export function tinyDemo(dataHash: string): RunConfig[] {
  const s = SCALES.tiny;
  const baseline: PretrainConfig = {
    kind: 'pretrain', name: 'tiny-demo/baseline', preset: 'tiny', model: s.model, optim: s.pretrain.optim,
    totalSteps: s.pretrain.totalSteps, batchSize: s.pretrain.batchSize, microBatch: s.pretrain.microBatch,
    mixture: [{ fromFraction: 0, weights: { general: 1 } }], evalEvery: s.pretrain.evalEvery, evalTokens: s.pretrain.evalTokens,
    seed: s.pretrain.seed, keepCheckpointsAt: [0.1, 0.33, 0.49, 0.66, 0.82],
  };
  const midtrain: PretrainConfig = {
    ...baseline, name: 'tiny-demo/midtrain-code-w20-f10', keepCheckpointsAt: undefined,
    mixture: [{ fromFraction: 0, weights: { general: 1 } }, { fromFraction: 0.1, weights: { general: 0.8, code: 0.2 } }],
    parent: { runId: runId(baseline, dataHash), atFraction: 0.1 },
  };
  const finetune: SftConfig = {
    kind: 'sft', name: 'tiny-demo/sft-pycode', preset: 'tiny', task: 'pycode', parent: { runId: runId(midtrain, dataHash), atFraction: 1 },
    optim: { ...s.sft.optim, lr: s.sft.lrs[0] }, epochs: s.sft.epochs, batchSize: s.sft.batchSize, maxExamples: s.sft.maxExamples,
    evalEvery: s.sft.evalEvery, valExamples: s.sft.valExamples, evalTokens: s.sft.evalTokens, accuracyExamples: s.sft.accuracyExamples, seed: s.sft.seeds[0],
  };
  return [baseline, midtrain, finetune];
}

const BUILTIN: Record<string, { preset: PresetName; configs: (dataHash: string) => RunConfig[] }> = {
  'tiny-demo': { preset: 'tiny', configs: tinyDemo },
};

// ---------------------------------------------------------------------------------------------------------
// Commands

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON (${(e as Error).message.split('\n')[0]})`}`);
  }
}

/** Where a command gets each preset's data (the data layer; tests pass in-memory bundles). */
export type DataSource = (preset: PresetName) => Promise<StoreData>;
const defaultData: DataSource = (preset) => ensureData(preset, { quiet: true });

/** Order configs so every parent that is in the list comes before its children (a sweep is a DAG). */
export async function orderParentsFirst(configs: RunConfig[], source: string, data: DataSource = defaultData): Promise<{ config: RunConfig; id: string; data: StoreData }[]> {
  const bundles = new Map<PresetName, StoreData>();
  for (const c of configs) if (!bundles.has(c.preset)) bundles.set(c.preset, await data(c.preset));
  const items = configs.map((config) => ({ config, id: runId(config, bundles.get(config.preset)!.manifestHash), data: bundles.get(config.preset)! }));
  const ids = new Set(items.map((i) => i.id));
  const placed = new Set<string>();
  const out: typeof items = [];
  while (out.length < items.length) {
    const ready = items.filter((i) => !placed.has(i.id) && (!i.config.parent || !ids.has(i.config.parent.runId) || placed.has(i.config.parent.runId)));
    if (ready.length === 0) throw new Error(`${source}: the parent references form a cycle`);
    for (const r of ready) {
      if (placed.has(r.id)) continue;
      placed.add(r.id);
      out.push(r);
    }
  }
  return out;
}

/** Run configs through the store, parents first; prints one summary line. Exit code 1 if any run failed. */
export async function runConfigs(configs: RunConfig[], label: string, quiet: boolean, data: DataSource = defaultData): Promise<number> {
  const ordered = await orderParentsFirst(configs, label, data);
  const already = ordered.filter((o) => runStatus(o.id) === 'finished').length;
  if (already === ordered.length) {
    console.log(`${label}: nothing to do — all ${ordered.length} run(s) already finished (midtrain status shows them)`);
    return 0;
  }
  const records: RunRecord[] = [];
  const outcomes = { trained: 0, 'already-finished': 0, 'finished-by-another': 0 };
  for (const { config, data: bundle } of ordered) {
    const rec = await getOrRun(config, { quiet, data: bundle, onOutcome: (o) => outcomes[o]++ });
    records.push(rec);
    if (rec.status !== 'finished') {
      console.error(`${label}: ${config.name} (${rec.id}) ${rec.status}: ${rec.error ?? ''}; stopping (runs after it may depend on it)`);
      return 1;
    }
  }
  const byOthers = outcomes['finished-by-another'];
  console.log(`${label}: ${outcomes.trained} run(s) trained, ${outcomes['already-finished']} already finished` +
    (byOthers ? `, ${byOthers} finished by another process while this one waited` : ''));
  return 0;
}

async function runCommand(args: string[], quiet: boolean): Promise<number> {
  if (args.length !== 1) throw new Error(`usage: midtrain run <config.json | ${Object.keys(BUILTIN).join(' | ')}>`);
  const target = args[0];
  const builtin = BUILTIN[target];
  if (builtin) {
    const data = await ensureData(builtin.preset, { quiet });
    return runConfigs(builtin.configs(data.manifestHash), target, quiet);
  }
  if (!fs.existsSync(target)) throw new Error(`midtrain run: ${target} is neither a config file nor a built-in (${Object.keys(BUILTIN).join(', ')})`);
  return runConfigs([validateRunConfig(readJson(target), target)], target, quiet);
}

/** `midtrain sweep <sweep.json>`: local execution, parents first. (`--slurm` submits instead; see slurm-cli.ts.) */
export async function sweepCommand(args: string[], quiet: boolean, data: DataSource = defaultData): Promise<number> {
  if (args.includes('--slurm')) return slurmSweepCommand(args.filter((a) => a !== '--slurm'));
  if (args.length !== 1) throw new Error('usage: midtrain sweep <sweep.json> [--slurm ...]');
  const sweep = readSweepFile(args[0]);
  const configs = sweep.runs.map((r, i) => validateRunConfig(r, `${args[0]}.runs[${i}]`));
  return runConfigs(configs, `sweep ${sweep.name}`, quiet, data);
}

/** `midtrain reproduce <report> [runs…]`: the comparison table, then one line per number beyond tolerance. */
export async function reproduceCommand(args: string[], quiet: boolean): Promise<number> {
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  for (const f of flags) if (f !== '--stale' && f !== '--keep') throw new Error(`midtrain reproduce: unknown option ${f} (known: --stale, --keep)`);
  const [target, ...selectors] = args.filter((a) => !a.startsWith('--'));
  if (!target) throw new Error('usage: midtrain reproduce <report folder | runs.json> [run ids or names…] [--stale] [--keep]');
  if (selectors.length === 0) throw new Error(`midtrain reproduce: name the runs to reproduce (ids or names from ${target}); each one re-trains, with its ancestors`);
  const result = await reproduceReport(target, selectors, { stale: flags.has('--stale'), keep: flags.has('--keep'), quiet });
  console.log(tableText(result.table, { maxRows: 1000, caption: reproduceCaption(result) }));
  if (flags.has('--keep')) console.log(`scratch store kept: ${result.scratch}`);
  for (const line of describeFailures(result)) console.error(`DIFFERS: ${line}`);
  return result.ok ? 0 : 1;
}

const SPARK = '▁▂▃▄▅▆▇█';

/** A loss curve as a one-line sparkline over `width` buckets (mean per bucket), with its first and last values. */
export function sparkline(values: number[], width = 24): string {
  if (values.length === 0) return '';
  const buckets: number[] = [];
  const n = Math.min(width, values.length);
  for (let b = 0; b < n; b++) {
    const part = values.slice(Math.floor((b * values.length) / n), Math.floor(((b + 1) * values.length) / n));
    buckets.push(part.reduce((s, v) => s + v, 0) / part.length);
  }
  const lo = Math.min(...buckets), hi = Math.max(...buckets);
  const line = buckets.map((v) => SPARK[hi > lo ? Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1)) : 0]).join('');
  return `${values[0].toFixed(2)} ${line} ${values[values.length - 1].toFixed(2)}`;
}

function describe(rec: RunRecord, logs: StepLog[]): string {
  const st = runStatus(rec.id);
  const prog = rec.progress ? `${rec.progress.step}/${rec.progress.totalSteps}` : '';
  const val = rec.summary?.finalVal ?? {};
  const vals = Object.entries(val).map(([k, v]) => `${k} ${(v as number).toFixed(3)}`).join(', ');
  const acc = rec.summary?.accuracy !== undefined ? ` acc ${(100 * rec.summary.accuracy).toFixed(1)}%` : '';
  const from = rec.config.parent ? ` ← ${rec.config.parent.runId}@${rec.config.parent.atFraction}` : '';
  const lines = [`${rec.id}  ${rec.config.name}  [${st}${prog ? ' ' + prog : ''}]${from}`];
  if (logs.length) lines.push(`    train loss ${sparkline(logs.map((l) => l.trainLoss))}`);
  const valKey = rec.config.kind === 'sft' ? 'sft' : 'general';
  const valCurve = logs.filter((l) => l.val?.[valKey] !== undefined).map((l) => l.val![valKey]!);
  if (valCurve.length > 1) lines.push(`    val ${valKey}   ${sparkline(valCurve)}`);
  if (vals || acc) lines.push(`    final: ${vals}${acc}${rec.summary ? ` · ${rec.summary.tokensPerSec.toFixed(0)} tok/s on ${rec.summary.backend}` : ''}`);
  if (rec.error) lines.push(`    error: ${rec.error}`);
  return lines.join('\n');
}

/** `midtrain status`: the store as a lineage forest (children under their parent), with curves. */
export async function statusCommand(args: string[]): Promise<number> {
  if (args.length > 0) return slurmStatusCommand(args);
  const { runs, unreadable } = scanRuns();
  if (runs.length === 0 && unreadable.length === 0) {
    console.log(`no runs in ${storeRoot()}`);
    // Submitted runs still queued have no store record yet: the Slurm section shows them.
    return printSlurmSection();
  }
  const byParent = new Map<string, RunRecord[]>();
  const ids = new Set(runs.map((r) => r.id));
  for (const r of runs) {
    const key = r.parentId && ids.has(r.parentId) ? r.parentId : '';
    byParent.set(key, [...(byParent.get(key) ?? []), r]);
  }
  const badMetrics: string[] = [];
  const print = (r: RunRecord, depth: number) => {
    const pad = depth === 0 ? '' : '  '.repeat(depth - 1) + '└─ ';
    let metrics: ReturnType<typeof readMetrics> = [];
    let bad = '';
    try { metrics = readMetrics(r.id); } catch (e) { badMetrics.push(r.id); bad = (e as Error).message.split('\n')[0]; }
    console.log(describe(r, metrics).split('\n').map((l, i) => (i === 0 ? pad + l : '  '.repeat(depth) + l)).join('\n'));
    if (bad) console.log(`${'  '.repeat(depth + 1)}metrics do not verify: ${bad}`);
    for (const c of byParent.get(r.id) ?? []) print(c, depth + 1);
  };
  console.log(`${runs.length} run(s) in ${storeRoot()}${unreadable.length ? `, and ${unreadable.length} that do not verify (listed last)` : ''}`);
  for (const r of byParent.get('') ?? []) print(r, 0);
  for (const u of unreadable) console.log(`UNREADABLE ${u.id}: ${u.error}`);
  // Runs submitted to Slurm from this cache: queue state (pending / running) and failed tasks' log tails.
  const slurmCode = await printSlurmSection();
  return runs.some((r) => r.status === 'failed') || unreadable.length > 0 || badMetrics.length > 0 ? 1 : slurmCode;
}

// ---------------------------------------------------------------------------------------------------------
// Entry

export async function cliMain(argv: string[]): Promise<number> {
  const rest: string[] = [];
  let backend: string | undefined;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backend') backend = argv[++i];
    else if (argv[i].startsWith('--backend=')) backend = argv[i].slice('--backend='.length);
    else if (argv[i] === '--quiet') quiet = true;
    else rest.push(argv[i]);
  }
  const [cmd, ...args] = rest;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === 'run' || cmd === 'sweep' || cmd === 'reproduce') {
    const report = await initBackend({ backend: backend ? parseBackendName(backend, '--backend') : undefined, quiet: true });
    if (!quiet) console.log(`[midtrain] ${formatBackendReport(report)}`);
  }
  switch (cmd) {
    case 'run':
      return runCommand(args, quiet);
    case 'sweep':
      return sweepCommand(args, quiet);
    case 'status':
      return statusCommand(args);
    case 'reproduce':
      return reproduceCommand(args, quiet);
    default:
      throw new Error(`midtrain: unknown command "${cmd}"\n${USAGE}`);
  }
}

if (require.main === module) {
  cliMain(process.argv.slice(2)).then(
    (code) => {
      releaseBackend();
      process.exit(code);
    },
    (e) => {
      console.error((e as Error).message);
      process.exit(1);
    },
  );
}
