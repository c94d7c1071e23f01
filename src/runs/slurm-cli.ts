// The Slurm half of the CLI: `midtrain sweep <sweep.json> --slurm [...]` and `midtrain status [<sweep.json>]`.
// src/cli.ts dispatches here; the flags map one to one onto SlurmResources (src/runs/slurm-plan.ts).
import * as fs from 'fs';
import type { RunConfig } from './types';
import { formatSweepStatus, readLedger, slurmDir, submitSweep, sweepStatus, waitForSweep, type SlurmResources, type SlurmStore, type Sweep } from './slurm';
import { knownRuns, runStoreView } from './slurm-store';

export const SLURM_USAGE = `midtrain sweep <sweep.json> --slurm [--partition P] [--gpus-per-run N] [--cpus-per-run N] [--time T]
                [--mem M] [--account A] [--qos Q] [--max-parallel N] [--sbatch=<option>]... [--dry-run]
    Submit the sweep's unfinished runs as sbatch array jobs (children wait on their parent: afterok);
    prints the job ids. Runs already finished or queued are skipped, so resubmitting is safe.
midtrain status [<sweep.json>] [--wait] [--poll S] [--json]
    Per-run state (pending / running / finished / failed + log tail) from the run store and squeue.
    Without a sweep: every run submitted from this cache. --wait polls until done (exit 1 if any failed).`;

/** Read and check a sweep file: `{ "name": string, "runs": RunConfig[] }`; one-line errors name the file and field. */
export function readSweepFile(file: string): Sweep {
  let sweep: unknown;
  try {
    sweep = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON (${(e as Error).message})`}`);
  }
  const s = sweep as Partial<Sweep>;
  if (!s || typeof s !== 'object' || typeof s.name !== 'string' || !s.name) throw new Error(`${file}: "name" must be a non-empty string`);
  if (!Array.isArray(s.runs) || s.runs.length === 0) throw new Error(`${file}: "runs" must be a non-empty array of run configs`);
  s.runs.forEach((r: RunConfig, i: number) => {
    if (!r || (r.kind !== 'pretrain' && r.kind !== 'sft')) throw new Error(`${file}: runs[${i}].kind must be "pretrain" or "sft"`);
    if (typeof r.name !== 'string') throw new Error(`${file}: runs[${i}].name must be a string`);
    if (typeof r.preset !== 'string') throw new Error(`${file}: runs[${i}].preset must be a string`);
  });
  return s as Sweep;
}

export interface SlurmFlags extends SlurmResources {
  dryRun: boolean;
  wait: boolean;
  json: boolean;
  pollSeconds: number;
  /** Arguments that are not flags (the sweep file). */
  positional: string[];
}

/** Parse the Slurm flags (`--name value` or `--name=value`); throws one line naming an unknown or malformed flag. */
export function parseSlurmFlags(argv: string[]): SlurmFlags {
  const out: SlurmFlags = { dryRun: false, wait: false, json: false, pollSeconds: 30, positional: [] };
  const int = (name: string, v: string) => {
    if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${name}: missing value`);
      return v;
    };
    switch (name) {
      case 'slurm': break;
      case 'dry-run': out.dryRun = true; break;
      case 'wait': out.wait = true; break;
      case 'json': out.json = true; break;
      case 'poll': out.pollSeconds = int(name, value()); break;
      case 'partition': out.partition = value(); break;
      case 'gpus-per-run': out.gpusPerRun = int(name, value()); break;
      case 'cpus-per-run': out.cpusPerRun = int(name, value()); break;
      case 'time': out.time = value(); break;
      case 'mem': out.mem = value(); break;
      case 'account': out.account = value(); break;
      case 'qos': out.qos = value(); break;
      case 'max-parallel': out.maxParallel = int(name, value()); break;
      case 'sbatch': out.extraSbatch = [...(out.extraSbatch ?? []), value()]; break;
      default: throw new Error(`unknown flag --${name} (see: midtrain help)`);
    }
  }
  return out;
}

/** `midtrain sweep <sweep.json> --slurm ...`: submit and print the job ids. Returns the exit code. */
export async function slurmSweepCommand(argv: string[], store?: SlurmStore): Promise<number> {
  const flags = parseSlurmFlags(argv);
  if (flags.positional.length !== 1) throw new Error(`usage:\n${SLURM_USAGE}`);
  const sweep = readSweepFile(flags.positional[0]);
  const { dryRun, wait: _w, json: _j, pollSeconds: _p, positional: _pos, ...resources } = flags;
  const res = await submitSweep(sweep, { ...resources, dryRun, ...(store ? { store } : {}) });
  for (const s of res.plan.skipped) console.log(`skip   ${s.name} (${s.id}): ${s.reason}${s.slurm ? ` as ${s.slurm}` : ''}`);
  for (const c of res.cancelled) console.log(`cancel ${c}: its dependency can never be met (resubmitting its run)`);
  for (const j of res.jobs) {
    console.log(`${dryRun ? 'would submit' : 'submitted'} ${j.jobId}: ${j.runIds.length} run(s) [${j.names.join(', ')}]${j.dependency ? ` after ${j.dependency}` : ''}`);
    console.log(`  ${j.script}`);
  }
  if (res.jobs.length === 0) console.log(`nothing to submit: all ${res.plan.skipped.length} run(s) of "${sweep.name}" are finished or queued`);
  else if (!dryRun) console.log(`job ids: ${res.jobs.map((j) => j.jobId).join(' ')}`);
  return 0;
}

/** `midtrain status [<sweep.json>] [--wait]`: per-run state; exit 1 when a run failed. */
export async function statusCommand(argv: string[], store?: SlurmStore): Promise<number> {
  const flags = parseSlurmFlags(argv);
  if (flags.positional.length > 1) throw new Error(`usage:\n${SLURM_USAGE}`);
  let sweep: Sweep;
  let known = new Map<RunConfig, string>();
  if (flags.positional.length) sweep = readSweepFile(flags.positional[0]);
  else {
    const all = knownRuns();
    sweep = { name: '(all runs in the store and submitted)', runs: all.configs };
    known = all.ids;
  }
  const ctx = { store: store ?? (await runStoreView(sweep.runs, known)) };
  const st = flags.wait
    ? await waitForSweep(sweep, { ...ctx, pollSeconds: flags.pollSeconds, onPoll: (s) => !flags.json && console.error(`${new Date().toISOString()} ${s.counts.finished}/${s.runs.length} finished, ${s.counts.running} running, ${s.counts.failed} failed`) })
    : await sweepStatus(sweep, ctx);
  console.log(flags.json ? JSON.stringify(st, null, 2) : formatSweepStatus(st));
  return st.counts.failed > 0 ? 1 : 0;
}

/**
 * The Slurm part of plain `midtrain status`: runs submitted from this cache with their queue state and,
 * for failed ones, their log's last lines. Prints nothing when nothing was submitted. Returns 1 if a run failed.
 */
export async function printSlurmSection(): Promise<number> {
  const ledger = readLedger(slurmDir());
  if (ledger.length === 0) return 0;
  const submitted = new Set(ledger.flatMap((e) => e.runIds));
  const { configs, ids } = knownRuns();
  const runs = configs.filter((c) => submitted.has(ids.get(c)!));
  const st = await sweepStatus({ name: '(submitted to Slurm)', runs }, { store: await runStoreView(runs, ids) });
  console.log(`\nSlurm (${slurmDir()}):\n${formatSweepStatus(st)}`);
  return st.counts.failed > 0 ? 1 : 0;
}
