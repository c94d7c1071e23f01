// The run store: every run lives in <cacheRoot>/runs/<id>/ keyed by a hash of its full config (minus
// operational fields), the data manifest hash and the engine version. getOrRun(config) returns a finished
// run, resumes an interrupted one from its latest checkpoint, or starts it — notebooks never retrain.
//
//   <id>/config.json      the config as given
//   <id>/run.json         RunRecord (status, lineage, summary), rewritten atomically
//   <id>/metrics.jsonl    one StepLog per optimizer step
//   <id>/checkpoints/step-NNNNNNN/{weights.bin,index.json}   kept: keepCheckpointsAt fractions, final, latest
//   <id>/samples.json     SFT: a few greedy generations with their verdicts
//   <id>/lock             held while a process trains (or replays) this run
//
// Resuming (own checkpoint on disk) and branching (config.parent) are separate: a run only ever resumes
// from its own folder; it branches only because its config names a parent.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cacheRoot, projectRoot, type Role, type PresetName, type SftTaskName } from '../config';
import type { PretrainConfig, RunConfig, RunRecord, RunStatus, StepLog, SftConfig } from './types';
import type { SftTask, TokenShard, Tokenizer } from '../data/types';
import { validateRunConfig } from './validate';
import { acquireLock, lockHolder } from './lock';
import { initBackend, currentBackend } from '../backend/choose';
import { pretrain } from '../train/pretrain';
import { sft, sftTotalSteps, type SftResult } from '../train/sft';
import { initParams, paramsToArrays, disposeParams } from '../model/gpt';
import { countParams } from '../model/presets';
import { checkpointDir, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint, type Checkpoint } from '../train/checkpoint';
import { progress } from '../report/display';
import { ensureData } from '../data';

/** Bump when a change alters what training produces (numerics, sampling, schedule): it changes every run id. */
export const ENGINE_VERSION = 1;

/** Fields that do not change what a run computes, so they stay out of its id. */
const OPERATIONAL_FIELDS = ['name', 'keepCheckpointsAt', 'checkpointEvery'] as const;

/** What the store needs from the data layer (a DataBundle fits). */
export interface StoreData {
  manifestHash: string;
  roles: Partial<Record<Role, { train: TokenShard; val: TokenShard }>>;
  sft?: Partial<Record<SftTaskName, SftTask>>;
  tokenizer?: Tokenizer;
}

export interface GetOrRunOptions {
  onLog?: (log: StepLog) => void;
  /** Called once when the run really trains (not when it comes back finished), before its first step. */
  onStart?: (info: { totalSteps: number; startStep: number }) => void;
  /** No messages and no progress bar. */
  quiet?: boolean;
  /** Data to train on; default: ensureData(config.preset). */
  data?: StoreData;
  /** How often a process waiting for another one's lock looks again (ms). */
  pollMs?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Identity

/** The engine's code version, part of every run id (package version + ENGINE_VERSION, not the git commit,
 * so unrelated commits do not invalidate finished runs). */
export function codeVersion(): string {
  let version = '0';
  try {
    version = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')).version;
  } catch { /* keep '0' */ }
  return `midtrain@${version}+engine${ENGINE_VERSION}`;
}

/** JSON with object keys sorted at every level and undefined dropped: equal configs give equal strings. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Stable id of a run: kind + sha256 of (config minus operational fields, data hash, code version). */
export function runId(config: RunConfig, dataHash: string): string {
  const identity: Record<string, unknown> = { ...config };
  for (const k of OPERATIONAL_FIELDS) delete identity[k];
  const h = crypto.createHash('sha256').update(canonicalJson({ config: identity, dataHash, code: codeVersion() })).digest('hex');
  return `${config.kind}-${h.slice(0, 16)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Reading the store

export function storeRoot(): string {
  return path.join(cacheRoot(), 'runs');
}

export function runDir(id: string): string {
  return path.join(storeRoot(), id);
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** The record of a run, or undefined when the store has none. */
export function getRun(id: string): RunRecord | undefined {
  const file = path.join(runDir(id), 'run.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: unreadable run record (${(e as Error).message.split('\n')[0]})`);
  }
}

/** All runs in the store, oldest first. */
export function listRuns(): RunRecord[] {
  if (!fs.existsSync(storeRoot())) return [];
  return fs
    .readdirSync(storeRoot())
    .map((id) => getRun(id))
    .filter((r): r is RunRecord => r !== undefined)
    .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
}

/**
 * Status as seen now: a record saying "running" whose lock is gone or stale was interrupted and will resume
 * on the next getOrRun, so it reads as "pending". Undefined when the store has no such run.
 */
export function runStatus(id: string): RunStatus | undefined {
  const rec = getRun(id);
  if (!rec) return undefined;
  if (rec.status === 'running' && !lockHolder(path.join(runDir(id), 'lock'))) return 'pending';
  return rec.status;
}

/** The step logs of a run (a torn last line from a killed writer is skipped). */
export function readMetrics(id: string): StepLog[] {
  const file = path.join(runDir(id), 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  const out: StepLog[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch { /* torn line */ }
  }
  return out;
}

/**
 * A run's curve including its ancestry: the parent's logs up to the branch step, then its own. For a
 * midtraining run this is the whole schedule from step 0; SFT runs have their own step axis and return as is.
 */
export function readLineageMetrics(id: string): StepLog[] {
  const rec = getRun(id);
  const own = readMetrics(id);
  if (!rec || rec.config.kind !== 'pretrain' || !rec.config.parent) return own;
  const parent = getRun(rec.config.parent.runId);
  if (!parent || parent.config.kind !== 'pretrain') return own;
  const k = Math.round(rec.config.parent.atFraction * parent.config.totalSteps);
  return [...readLineageMetrics(parent.id).filter((l) => l.step <= k), ...own];
}

/** Final weights (or those at a kept fraction) of a run, for generation or inspection in a notebook. */
export function loadRunWeights(id: string, atFraction = 1): { config: RunConfig; step: number; params: Record<string, Float32Array> } {
  const rec = getRun(id);
  if (!rec) throw new Error(`run ${id}: not in the store (${storeRoot()})`);
  const root = path.join(rec.dir, 'checkpoints');
  const total = rec.progress?.totalSteps ?? (rec.config.kind === 'pretrain' ? rec.config.totalSteps : 0);
  const step = Math.round(atFraction * total);
  if (!listCheckpoints(root).includes(step)) throw new Error(`run ${id}: no checkpoint at step ${step} (kept: ${listCheckpoints(root).join(', ') || 'none'})`);
  const ck = readCheckpoint(checkpointDir(root, step));
  return { config: rec.config, step, params: ck.params };
}

// ---------------------------------------------------------------------------------------------------------
// Running

/** The preset's data bundle, built once by the data layer (cached under cacheRoot()/data). */
async function loadData(preset: PresetName): Promise<StoreData> {
  return ensureData(preset, { quiet: true });
}

function parentRecord(config: RunConfig): RunRecord {
  const ref = config.parent!;
  const p = getRun(ref.runId);
  if (!p) throw new Error(`${config.name}: parent run ${ref.runId} is not in the store; run the parent first`);
  if (p.status !== 'finished') throw new Error(`${config.name}: parent run ${ref.runId} (${p.config.name}) is ${runStatus(ref.runId)}, not finished; run the parent first`);
  if (p.config.kind !== 'pretrain') throw new Error(`${config.name}: parent run ${ref.runId} is an SFT run; parents must be pretraining runs`);
  return p;
}

/**
 * The checkpoint of a finished pretraining run at step k. If the run did not keep one there, it is
 * materialised deterministically by replaying the run's own steps from the nearest earlier kept
 * checkpoint (or from its branch point / fresh init) and kept for the next asker.
 */
async function checkpointOfRun(rec: RunRecord, k: number, data: StoreData, say: (m: string) => void): Promise<Checkpoint> {
  const cfg = rec.config as PretrainConfig;
  const root = path.join(rec.dir, 'checkpoints');
  if (listCheckpoints(root).includes(k)) return readCheckpoint(checkpointDir(root, k));
  if (rec.dataHash !== data.manifestHash) throw new Error(`run ${rec.id}: no checkpoint at step ${k}, and it cannot be replayed: it was trained on data ${rec.dataHash}, not ${data.manifestHash}`);
  const lock = await acquireLock(rec.dir, { onWait: (h) => say(`waiting for ${rec.id} (locked by ${h})`) });
  try {
    if (listCheckpoints(root).includes(k)) return readCheckpoint(checkpointDir(root, k));
    const earlier = listCheckpoints(root).filter((s) => s <= k).pop();
    let start: Checkpoint | undefined;
    if (earlier !== undefined) start = readCheckpoint(checkpointDir(root, earlier));
    else if (cfg.parent) {
      const pp = parentRecord(cfg);
      const kp = Math.round(cfg.parent.atFraction * (pp.config as PretrainConfig).totalSteps);
      start = await checkpointOfRun(pp, kp, data, say);
    }
    if (k === 0 && !start) {
      const p = initParams(cfg.model, cfg.seed);
      const ck = { step: 0, params: paramsToArrays(p), sampler: { seed: cfg.seed, step: 0 } };
      disposeParams(p);
      return ck;
    }
    say(`materialising ${cfg.name} (${rec.id}) step ${k}: replaying from step ${start?.step ?? 0}`);
    for await (const _ of pretrain(cfg, { shards: data.roles, start, stopAtStep: k, skipEval: true, checkpointAt: (s) => s === k, onCheckpoint: (ck) => writeCheckpoint(root, ck) })) void _;
    return readCheckpoint(checkpointDir(root, k));
  } finally {
    lock.release();
  }
}

/** Train, resume or return a run. A run that fails comes back with status "failed" and its error; the next call resumes it from its last good checkpoint. */
export async function getOrRun(config: RunConfig, opts: GetOrRunOptions = {}): Promise<RunRecord> {
  validateRunConfig(config, `config "${(config as { name?: string })?.name ?? '?'}"`);
  const say = opts.quiet ? () => {} : (m: string) => console.log(`[midtrain] ${m}`);
  const data = opts.data ?? (await loadData(config.preset));
  const id = runId(config, data.manifestHash);
  const dir = runDir(id);
  const done = getRun(id);
  if (done?.status === 'finished') {
    say(`${config.name} (${id}): already finished, nothing to do`);
    return done;
  }
  if (config.parent) parentRecord(config);
  const lock = await acquireLock(dir, { pollMs: opts.pollMs, onWait: (h) => say(`${config.name} (${id}) is being trained by ${h}; waiting for it`) });
  try {
    const again = getRun(id);
    if (again?.status === 'finished') {
      say(`${config.name} (${id}): finished by another process`);
      return again;
    }
    await initBackend({ quiet: true });
    return await trainRun(config, id, dir, data, opts, say, again);
  } finally {
    lock.release();
  }
}

async function trainRun(
  config: RunConfig, id: string, dir: string, data: StoreData, opts: GetOrRunOptions, say: (m: string) => void, prev?: RunRecord,
): Promise<RunRecord> {
  const started = Date.now();
  const now = () => new Date().toISOString();
  const task = config.kind === 'sft' ? data.sft?.[config.task] : undefined;
  if (config.kind === 'sft' && !task) throw new Error(`${config.name}: the data bundle has no SFT task "${config.task}"`);
  const totalSteps = config.kind === 'pretrain' ? config.totalSteps : sftTotalSteps(config, task!, requireTokenizer(data, config), (parentRecord(config).config as PretrainConfig).model.contextLength);
  const record: RunRecord = {
    id, config, status: 'running', dir, parentId: config.parent?.runId, codeVersion: codeVersion(), dataHash: data.manifestHash,
    progress: { step: 0, totalSteps }, createdAt: prev?.createdAt ?? now(), updatedAt: now(),
    ...(prev?.summary ? { summary: prev.summary } : {}),
  };
  const save = () => writeJsonAtomic(path.join(dir, 'run.json'), { ...record, updatedAt: now() });
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, 'config.json'), config);
  save();

  const ckRoot = path.join(dir, 'checkpoints');
  const metricsFile = path.join(dir, 'metrics.jsonl');
  try {
    // Where to start: own checkpoint (resume) › parent's checkpoint (branch / SFT) › fresh weights.
    const own = listCheckpoints(ckRoot);
    let start: Checkpoint | undefined;
    let resume = false;
    if (own.length > 0) {
      start = readCheckpoint(checkpointDir(ckRoot, own[own.length - 1]));
      resume = true;
      say(`${config.name} (${id}): resuming from its checkpoint at step ${start.step}/${totalSteps}`);
    } else if (config.parent) {
      const p = parentRecord(config);
      const pcfg = p.config as PretrainConfig;
      const k = Math.round(config.parent.atFraction * pcfg.totalSteps);
      if (config.preset !== pcfg.preset) throw new Error(`${config.name}.preset: ${config.preset} differs from parent ${p.id}'s ${pcfg.preset} (tokenizer and data must match)`);
      if (config.kind === 'pretrain' && canonicalJson(config.model) !== canonicalJson(pcfg.model)) throw new Error(`${config.name}.model: differs from parent ${p.id}'s model; a branch continues the same network`);
      if (config.kind === 'pretrain' && k >= config.totalSteps) throw new Error(`${config.name}.totalSteps: ${config.totalSteps} does not go past the branch step ${k}`);
      start = await checkpointOfRun(p, k, data, say);
      say(`${config.name} (${id}): ${config.kind === 'sft' ? 'fine-tuning' : 'branching'} from ${pcfg.name} (${p.id}) at step ${k}/${pcfg.totalSteps}`);
    } else {
      say(`${config.name} (${id}): starting, ${totalSteps} steps${config.kind === 'pretrain' ? `, ${countParams(config.model).toLocaleString('en-US')} parameters` : ''}`);
    }
    // Metrics up to the start step stay; anything after it is redone.
    const kept = resume ? readMetrics(id).filter((l) => l.step <= start!.step) : [];
    writeFileAtomic(metricsFile, kept.map((l) => JSON.stringify(l) + '\n').join(''));

    const every = config.checkpointEvery ?? Math.max(1, Math.round(totalSteps / 10));
    const keep = new Set<number>([totalSteps, ...((config.kind === 'pretrain' ? config.keepCheckpointsAt : undefined) ?? []).map((f) => Math.round(f * totalSteps))]);
    const hooks = {
      checkpointAt: (s: number) => s % every === 0 || keep.has(s),
      onCheckpoint: (ck: Checkpoint) => {
        writeCheckpoint(ckRoot, ck);
        // Keep the kept steps and this latest one; older "latest" checkpoints go.
        pruneCheckpoints(ckRoot, new Set([...keep, ck.step]));
      },
    };
    const gen: AsyncGenerator<StepLog, void | SftResult> =
      config.kind === 'pretrain'
        ? pretrain(config, { shards: data.roles, start, ...hooks })
        : sft(config, {
            model: (parentRecord(config).config as PretrainConfig).model, task: task!, tokenizer: requireTokenizer(data, config),
            generalVal: requireGeneralVal(data, config), start: start!, resume, ...hooks,
          });
    const bar = opts.quiet ? undefined : progress(totalSteps, config.name);
    opts.onStart?.({ totalSteps, startStep: resume || config.kind === 'pretrain' ? start?.step ?? 0 : 0 });
    let result: void | SftResult;
    let lastLoss = NaN;
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          result = r.value;
          break;
        }
        const log = r.value;
        fs.appendFileSync(metricsFile, JSON.stringify(log) + '\n');
        lastLoss = log.trainLoss;
        record.progress = { step: log.step, totalSteps };
        if (log.val || log.step % every === 0) save();
        bar?.update(log.step, { loss: +log.trainLoss.toFixed(3), 'tok/s': Math.round(log.tokensPerSec ?? 0) });
        opts.onLog?.(log);
      }
    } finally {
      bar?.done();
    }
    const logs = readMetrics(id);
    const lastVal = [...logs].reverse().find((l) => l.val)?.val ?? {};
    const speeds = logs.map((l) => l.tokensPerSec ?? 0).filter((x) => x > 0).sort((a, b) => a - b);
    record.summary = {
      finalVal: lastVal,
      wallSeconds: (prev?.summary?.wallSeconds ?? 0) + (Date.now() - started) / 1000,
      tokensPerSec: speeds.length ? speeds[Math.floor(speeds.length / 2)] : 0,
      backend: currentBackend()?.name ?? tf.getBackend(),
      backendDetail: currentBackend()?.detail,
      machine: machineClass(),
    };
    if (result) {
      record.summary.accuracy = result.accuracy;
      record.summary.accuracyCounts = result.counts;
      if (result.accuracyNormalised !== undefined) record.summary.accuracyNormalised = result.accuracyNormalised;
      if (result.test) record.summary.test = result.test;
      writeJsonAtomic(path.join(dir, 'samples.json'), result.samples);
    }
    pruneCheckpoints(ckRoot, keep);
    record.status = 'finished';
    record.progress = { step: totalSteps, totalSteps };
    save();
    say(`${config.name} (${id}): finished — train loss ${lastLoss.toFixed(4)}, val ${Object.entries(lastVal).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')}${result ? `, accuracy ${(100 * result.accuracy).toFixed(1)}%` : ''}`);
    return { ...record };
  } catch (e) {
    record.status = 'failed';
    record.error = (e as Error).message.split('\n')[0];
    save();
    say(`${config.name} (${id}): FAILED — ${record.error}`);
    return { ...record };
  }
}

/** CPU model and architecture: runs on the same CPU backend and machine class reproduce bit for bit. */
export function machineClass(): string {
  return `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (${os.arch()})`;
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function requireTokenizer(data: StoreData, config: SftConfig): Tokenizer {
  if (!data.tokenizer) throw new Error(`${config.name}: the data bundle has no tokenizer (needed to encode SFT examples)`);
  return data.tokenizer;
}

function requireGeneralVal(data: StoreData, config: SftConfig): TokenShard {
  const g = data.roles.general?.val;
  if (!g) throw new Error(`${config.name}: the data bundle has no general val split (forgetting is measured on it)`);
  return g;
}
