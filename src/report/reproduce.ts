// Reproduce numbers of a committed report from its runs.json alone: re-train the named runs, and the
// ancestors they branch from, in a fresh scratch store (never answering from an existing one), and set each
// committed summary number beside the reproduced one. The tolerance depends on where the two were trained:
// bit-identical on the same CPU backend and machine class, a measured bound otherwise (see docs/experiments.md).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as aq from 'arquero';
import { cacheRoot } from '../config';
import type { RunConfig, RunSummary } from '../runs/types';
import { codeVersion, getOrRun, machineClass, runId, storeRoot, type StoreData } from '../runs/store';
import { validateRunConfig } from '../runs/validate';
import { initBackend, type BackendName } from '../backend/choose';
import { ensureData } from '../data';
import type { RunEntry } from './artifacts';
import type { Table } from './tables';
import { show } from './display';

/** Summary fields that measure the machine, not the experiment: never compared. */
const NOT_COMPARED = new Set(['wallSeconds', 'tokensPerSec']);
const CPU_BACKENDS = new Set(['native', 'wasm', 'cpu']);

/**
 * Bounds on |reproduced − committed| for each summary number, from differences measured by reproducing tiny runs
 * (a baseline, a midtraining branch, SFT of each) on one machine under other kernels and backends
 * (docs/experiments.md, "Reproducing a committed number"), with headroom for longer runs.
 */
export const TOLERANCE = {
  /** Same backend, other BLAS kernels, thread count or CPU: ≤ 7.0e-7 measured (tiny); 7e-7 seen on a small val loss. */
  sameBackend: 1e-5,
  /** Another CPU backend (native ↔ wasm ↔ cpu): ≤ 4.8e-6 measured between native and wasm (tiny). */
  otherCpuBackend: 1e-4,
  /** A GPU backend on either side: not measured here (no GPU on the measuring machine); loose until it is. */
  gpu: 1e-3,
} as const;

export interface Tolerance {
  /** Largest |reproduced − committed| accepted on a loss (0: bit-identical). */
  abs: number;
  why: string;
}

/** Where a run was trained, as its summary records it. */
export interface TrainedOn {
  backend: string;
  backendDetail?: string;
  machine?: string;
}

/** The tolerance for comparing a run trained on `committed` with its reproduction on `now`. */
export function reproduceTolerance(committed: TrainedOn, now: TrainedOn): Tolerance {
  if (!CPU_BACKENDS.has(committed.backend) || !CPU_BACKENDS.has(now.backend)) return { abs: TOLERANCE.gpu, why: `a GPU backend (${committed.backend} → ${now.backend}): reductions are not fixed in order` };
  if (committed.backend !== now.backend) return { abs: TOLERANCE.otherCpuBackend, why: `other backend (${committed.backend} → ${now.backend})` };
  if (committed.machine === undefined || committed.backendDetail === undefined) {
    return { abs: TOLERANCE.sameBackend, why: 'same backend; the report does not record the machine class' };
  }
  if (committed.machine !== now.machine || committed.backendDetail !== now.backendDetail) {
    return { abs: TOLERANCE.sameBackend, why: 'same backend on another machine class, BLAS kernel or thread count' };
  }
  return { abs: 0, why: 'same CPU backend and machine class: bit-identical' };
}

// ---------------------------------------------------------------------------------------------------------
// Reading a report's runs

/** A report's runs.json, checked: every entry names a valid config and a finished run with a summary. */
export function readReportRuns(target: string): { file: string; runs: Record<string, RunEntry> } {
  const file = fs.existsSync(target) && fs.statSync(target).isDirectory() ? path.join(target, 'runs.json') : target;
  if (!fs.existsSync(file)) throw new Error(`reproduce: ${file}: no such file (give a report folder or its runs.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`reproduce: ${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`reproduce: ${file}: expected an object of runs keyed by id`);
  const runs = raw as Record<string, RunEntry>;
  for (const [id, r] of Object.entries(runs)) {
    const at = `${file}: run ${id}`;
    if (typeof r !== 'object' || r === null) throw new Error(`${at}: expected a run entry object`);
    for (const k of ['name', 'kind', 'status', 'codeVersion', 'dataHash'] as const) {
      if (typeof r[k] !== 'string' || !r[k]) throw new Error(`${at}.${k}: expected a non-empty string, got ${JSON.stringify(r[k])}`);
    }
    if (typeof r.config !== 'object' || r.config === null) throw new Error(`${at}.config: missing`);
    if (r.status !== 'finished') throw new Error(`${at} (${r.name}): status ${r.status}, not finished`);
    if (!r.summary || typeof r.summary.finalVal !== 'object') throw new Error(`${at}.summary.finalVal: missing`);
    for (const [k, v] of Object.entries(r.summary.finalVal)) if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${at}.summary.finalVal.${k}: expected a finite number, got ${JSON.stringify(v)}`);
    if (r.config.parent && !runs[r.config.parent.runId]) throw new Error(`${at}.config.parent.runId: ${r.config.parent.runId} is not in ${path.basename(file)}`);
  }
  return { file, runs };
}

/** Every number of a summary that the experiment determines, as [dotted key, value] (finalVal.general, accuracy, …). */
export function summaryNumbers(summary: RunSummary): [string, number][] {
  const out: [string, number][] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === 'number') out.push([key, v]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) walk(x, key ? `${key}.${k}` : k);
  };
  for (const [k, v] of Object.entries(summary)) if (!NOT_COMPARED.has(k)) walk(v, k);
  return out;
}

/** The run ids a selector names: an id, a full name ("small/baseline") or a name without its preset ("baseline"). */
export function selectRuns(runs: Record<string, RunEntry>, selectors: string[], source: string): string[] {
  const out: string[] = [];
  for (const s of selectors) {
    let ids = runs[s] ? [s] : Object.keys(runs).filter((id) => runs[id].name === s);
    if (ids.length === 0) ids = Object.keys(runs).filter((id) => runs[id].name.endsWith(`/${s}`));
    if (ids.length === 0) throw new Error(`reproduce: ${source} has no run with id or name "${s}" (e.g. ${Object.values(runs).slice(0, 3).map((r) => r.name).join(', ')})`);
    if (ids.length > 1) throw new Error(`reproduce: "${s}" names ${ids.length} runs in ${source} (${ids.map((i) => runs[i].name).join(', ')}); give the full name or the id`);
    out.push(ids[0]);
  }
  return out;
}

/** The selected runs with every ancestor they branch from, parents first. */
export function withAncestors(runs: Record<string, RunEntry>, ids: string[]): string[] {
  const out: string[] = [];
  const add = (id: string) => {
    if (out.includes(id)) return;
    const parent = runs[id].config.parent?.runId;
    if (parent) add(parent);
    out.push(id);
  };
  ids.forEach(add);
  return out;
}

/** Why a recorded run would not get its id back from this code: its engine, its data or its config's shape changed. */
export function staleness(id: string, entry: RunEntry, dataHash?: string): string | undefined {
  try {
    validateRunConfig(entry.config, `${entry.name}.config`);
  } catch (e) {
    return `its config is not valid under this code (${(e as Error).message})`;
  }
  if (entry.codeVersion !== codeVersion()) return `made by ${entry.codeVersion}, this code is ${codeVersion()}`;
  if (entry.dataHash.includes('+')) return `recorded under data ${entry.dataHash}, which is not a data manifest hash this code builds (an old data view, e.g. a val cut now in the config)`;
  if (dataHash !== undefined && entry.dataHash !== dataHash) return `trained on data ${entry.dataHash}, this checkout builds ${dataHash}`;
  const now = runId(entry.config, entry.dataHash);
  if (now !== id) return `its config now hashes to ${now} (the config's shape or the id's inputs changed)`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Reproducing

export interface ReproduceOptions {
  /** Train on this backend (default: the one already chosen, else the chooser's pick). */
  backend?: BackendName;
  /** Reproduce even when the report's ids no longer re-derive under this code (the numbers then measure drift). */
  stale?: boolean;
  /** Keep the scratch store (its path is in the result) instead of deleting it. */
  keep?: boolean;
  /** No per-run messages. */
  quiet?: boolean;
  /** Data per preset (default: the data layer); tests pass in-memory bundles. */
  data?: (preset: RunConfig['preset']) => Promise<StoreData>;
}

export interface ReproducedRun {
  id: string;
  name: string;
  /** The id this code gave the reproduction (equal to `id` unless the report is stale). */
  reproducedId: string;
  /** Named on the command line (else an ancestor trained so the named runs can branch from it). */
  requested: boolean;
  /** Optimizer steps actually trained in the scratch store, and how many the run has after its start. */
  stepsTrained: number;
  stepsExpected: number;
  seconds: number;
  committedOn: TrainedOn;
  reproducedOn: TrainedOn;
  tolerance: Tolerance;
}

export interface ReproduceRow {
  run: string;
  metric: string;
  committed: number;
  reproduced: number;
  difference: number;
  tolerance: number;
  ok: boolean;
}

export interface ReproduceResult {
  source: string;
  runs: ReproducedRun[];
  rows: ReproduceRow[];
  /** Every number within its tolerance and every run trained its steps. */
  ok: boolean;
  /** The rows as a table (numbers at full precision as text, so bit-identity is visible). */
  table: Table;
  /** The scratch store (deleted unless `keep`). */
  scratch: string;
}

/** Compare committed and reproduced summaries of one run: one row per committed number (a missing one fails). */
export function compareSummaries(run: string, committed: RunSummary, reproduced: RunSummary | undefined, tol: Tolerance): ReproduceRow[] {
  const now = new Map(reproduced ? summaryNumbers(reproduced) : []);
  return summaryNumbers(committed).map(([metric, c]) => {
    const r = now.get(metric) ?? NaN;
    const difference = r - c;
    return { run, metric, committed: c, reproduced: r, difference, tolerance: tol.abs, ok: Number.isFinite(r) && Math.abs(difference) <= tol.abs };
  });
}

/** The cache root of a scratch store: the real cache's data and tools linked in, an empty runs/ of its own. */
function scratchCache(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-reproduce-'));
  const real = cacheRoot();
  if (fs.existsSync(real)) {
    for (const e of fs.readdirSync(real)) if (e !== 'runs') fs.symlinkSync(path.join(real, e), path.join(dir, e));
  }
  return dir;
}

/**
 * Re-train `selectors` (ids or names; all the report's runs when empty) and their ancestors from a report's
 * runs.json in a fresh scratch store and compare every summary number. Throws one line when the report is
 * stale under this code (unless `stale`), when a selector matches nothing, or when a run fails to train.
 */
export async function reproduceReport(target: string, selectors: string[] = [], opts: ReproduceOptions = {}): Promise<ReproduceResult> {
  const { file, runs } = readReportRuns(target);
  const requested = selectors.length ? selectRuns(runs, selectors, file) : Object.keys(runs);
  const order = withAncestors(runs, requested);
  const say = opts.quiet ? () => {} : (m: string) => console.log(`[reproduce] ${m}`);
  const refuseStale = (dataHash: (id: string) => string | undefined) => {
    const stale = order.map((id) => [id, staleness(id, runs[id], dataHash(id))] as const).filter(([, why]) => why);
    if (stale.length && !opts.stale) {
      throw new Error(`reproduce: ${file} is stale under this code: ${stale.length} of ${order.length} run(s) would not get their ids back (${runs[stale[0][0]].name}: ${stale[0][1]}); re-run the study to refresh it, or pass --stale to re-train anyway and measure the drift`);
    }
  };
  refuseStale(() => undefined); // before building any data: engine, config shape and id need none
  const report = await initBackend({ backend: opts.backend, quiet: true });
  const data = opts.data ?? ((preset) => ensureData(preset, { quiet: true }));
  const bundles = new Map<string, StoreData>();
  for (const id of order) {
    const preset = runs[id].config.preset;
    if (!bundles.has(preset)) {
      say(`data for preset ${preset} (built once into the cache when missing, which can take minutes)`);
      bundles.set(preset, await data(preset));
    }
  }
  refuseStale((id) => bundles.get(runs[id].config.preset)!.manifestHash);
  const out: ReproducedRun[] = [];
  const rows: ReproduceRow[] = [];
  const newIds = new Map<string, string>();
  const now: TrainedOn = { backend: report.name, backendDetail: report.detail, machine: machineClass() };
  // The store lives under MIDTRAIN_CACHE: point it at the scratch cache for the duration, then put it back.
  const scratch = scratchCache();
  const savedCache = process.env.MIDTRAIN_CACHE;
  process.env.MIDTRAIN_CACHE = scratch;
  try {
    if (fs.existsSync(storeRoot()) && fs.readdirSync(storeRoot()).length > 0) throw new Error(`reproduce: scratch store ${storeRoot()} is not empty`);
    for (const id of order) {
      const entry = runs[id];
      const parent = entry.config.parent;
      // A stale report's children name their parent by its old id; point them at the reproduced parent.
      const config = parent ? ({ ...entry.config, parent: { ...parent, runId: newIds.get(parent.runId) ?? parent.runId } } as RunConfig) : entry.config;
      const t0 = Date.now();
      let steps = 0;
      let firstStep: number | undefined;
      say(`${entry.name} (${id}): training in the scratch store`);
      const rec = await getOrRun(config, { quiet: true, data: bundles.get(config.preset)!, onLog: (l) => { steps++; firstStep ??= l.step; } });
      if (rec.status !== 'finished') throw new Error(`reproduce: ${entry.name} (${rec.id}) ended ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
      if (!opts.stale && rec.id !== id) throw new Error(`reproduce: ${entry.name} got id ${rec.id} from this code, not the recorded ${id}`);
      newIds.set(id, rec.id);
      const total = rec.progress?.totalSteps ?? 0;
      const start = firstStep === undefined ? total : firstStep - 1;
      const expected = total - (config.kind === 'pretrain' && parent ? Math.round(parent.atFraction * (runs[parent.runId].config as { totalSteps: number }).totalSteps) : 0);
      const committedOn: TrainedOn = { backend: entry.summary!.backend, backendDetail: entry.summary!.backendDetail, machine: entry.summary!.machine };
      const tolerance = reproduceTolerance(committedOn, now);
      out.push({
        id, name: entry.name, reproducedId: rec.id, requested: requested.includes(id), stepsTrained: steps, stepsExpected: expected,
        seconds: (Date.now() - t0) / 1000, committedOn, reproducedOn: now, tolerance,
      });
      if (steps !== expected || start !== total - expected) throw new Error(`reproduce: ${entry.name} trained ${steps} step(s) from step ${start}, expected ${expected}: it was not trained from its start in the scratch store`);
      rows.push(...compareSummaries(entry.name, entry.summary!, rec.summary, tolerance));
      const bad = rows.filter((r) => r.run === entry.name && !r.ok).length;
      say(`${entry.name}: ${steps} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${bad ? `${bad} number(s) beyond tolerance` : tolerance.abs === 0 ? 'identical' : `within ${tolerance.abs}`}`);
    }
  } finally {
    if (savedCache === undefined) delete process.env.MIDTRAIN_CACHE;
    else process.env.MIDTRAIN_CACHE = savedCache;
    if (!opts.keep) fs.rmSync(scratch, { recursive: true, force: true });
  }
  const table = aq.from(rows.map((r) => ({
    run: r.run, metric: r.metric, committed: String(r.committed), reproduced: String(r.reproduced),
    difference: r.difference === 0 ? '0' : r.difference.toExponential(2), tolerance: r.tolerance === 0 ? 'exact' : String(r.tolerance), verdict: r.ok ? 'ok' : 'DIFFERS',
  })));
  return { source: file, runs: out, rows, ok: rows.every((r) => r.ok), table, scratch };
}

/** One line per number beyond its tolerance, naming the run and the metric. */
export function describeFailures(result: ReproduceResult): string[] {
  return result.rows.filter((r) => !r.ok).map((r) => `${r.run} ${r.metric}: committed ${r.committed}, reproduced ${r.reproduced} (difference ${r.difference.toExponential(2)}, tolerance ${r.tolerance})`);
}

/** Notebook call: reproduce runs of a committed report and show the comparison table; returns the result. */
export async function reproduce(target: string, selectors: string[] = [], opts: ReproduceOptions = {}): Promise<ReproduceResult> {
  const result = await reproduceReport(target, selectors, { quiet: true, ...opts });
  show(result.table, { caption: reproduceCaption(result) });
  return result;
}

/** What the comparison covers: runs trained (steps, seconds), backends, tolerance and verdict. */
export function reproduceCaption(result: ReproduceResult): string {
  const trained = result.runs.map((r) => `${r.name} ${r.stepsTrained} steps in ${r.seconds.toFixed(1)} s`).join('; ');
  const tol = [...new Set(result.runs.map((r) => r.tolerance.why))].join('; ');
  return `Reproduced from ${result.source} in a fresh store (${trained}). Tolerance: ${tol}. ${result.ok ? 'Every number reproduced.' : `${describeFailures(result).length} number(s) differ beyond tolerance.`}`;
}
