// The run store: every run lives in <cacheRoot>/runs/<id>/ keyed by a hash of its full config (minus
// operational fields), the data manifest hash and the engine version. getOrRun(config) returns a finished
// run, resumes an interrupted one from its latest checkpoint, or starts it — notebooks never retrain.
//
//   <id>/config.json      the config as given
//   <id>/run.json         RunRecord (status, lineage, summary) + checksums of itself, config.json and metrics
//   <id>/metrics.jsonl    one StepLog per optimizer step
//   <id>/checkpoints/step-NNNNNNN/{weights.bin,index.json}   kept: keepCheckpointsAt fractions, final, latest
//   <id>/samples.json     SFT: a few greedy generations with their verdicts
//   <id>/lock             held while a process trains (or replays) this run
//
// Resuming (own checkpoint on disk) and branching (config.parent) are separate: a run only ever resumes
// from its own folder; it branches only because its config names a parent.
//
// Every file here is published durably (src/durable.ts) and verified when loaded (src/runs/integrity.ts,
// checkpoints in src/train/checkpoint.ts): a corrupt checkpoint is set aside and the run resumes from
// the newest one that verifies, or replays it; other corrupt files stop with one line saying what to do.
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
import { checkpointDir, CorruptCheckpointError, listCheckpoints, pruneCheckpoints, readCheckpoint, setAsideCheckpoint, writeCheckpoint, type Checkpoint } from '../train/checkpoint';
import { NonFiniteLossError } from '../train/pretrain';
import { isDiskFull, sha256, writeFileDurable } from '../durable';
import { CorruptRunFileError, metricsPrefixBytes, openRecord, readVerifiedMetrics, sealRecord, verifyConfigFile, warnUnverified, type RunChecksums } from './integrity';
import { progress } from '../report/display';
import { ensureData, withMixtureParts } from '../data';

/** Bump when a change alters what training produces (numerics, sampling, schedule): it changes every run id. */
export const ENGINE_VERSION = 2;

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
  /** Told what this call did: trained (or resumed) the run here, found it finished, or waited while another process finished it. */
  onOutcome?: (outcome: 'trained' | 'already-finished' | 'finished-by-another') => void;
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
  writeFileDurable(file, JSON.stringify(value, null, 2) + '\n');
}

/** The record of a run and the checksums it carries, verified (run.json and config.json); undefined when the store has none. */
function openRun(id: string): { record: RunRecord; checksums?: RunChecksums } | undefined {
  const file = path.join(runDir(id), 'run.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: unreadable run record (${(e as Error).message.split('\n')[0]})`);
  }
  const opened = openRecord(text, file, id);
  verifyConfigFile(id, path.join(runDir(id), 'config.json'), opened.checksums);
  return opened;
}

/** The record of a run, or undefined when the store has none. Throws one line if its files fail their checksums. */
export function getRun(id: string): RunRecord | undefined {
  return openRun(id)?.record;
}

/** All runs in the store, oldest first. */
export function listRuns(): RunRecord[] {
  return scanRuns().runs;
}

/**
 * Every run of the store that reads and verifies, oldest first, and the ones that do not (a corrupt or
 * half-written record) with the one-line reason: a listing goes on past a bad run instead of stopping at it.
 */
export function scanRuns(): { runs: RunRecord[]; unreadable: { id: string; error: string }[] } {
  if (!fs.existsSync(storeRoot())) return { runs: [], unreadable: [] };
  const runs: RunRecord[] = [];
  const unreadable: { id: string; error: string }[] = [];
  for (const id of fs.readdirSync(storeRoot()).sort()) {
    try {
      const r = getRun(id);
      if (r) runs.push(r);
    } catch (e) {
      unreadable.push({ id, error: (e as Error).message.split('\n')[0] });
    }
  }
  runs.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
  return { runs, unreadable };
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

/** The step logs of a run, verified against run.json (a torn last line from a killed writer is skipped). */
export function readMetrics(id: string): StepLog[] {
  const file = path.join(runDir(id), 'metrics.jsonl');
  let text: string;
  try {
    text = readVerifiedMetrics(id, file, openRun(id)?.checksums);
  } catch {
    // A resuming writer saves the record, then cuts the file back: a reader between the two reads again.
    text = readVerifiedMetrics(id, file, openRun(id)?.checksums);
  }
  const out: StepLog[] = [];
  for (const line of text.split('\n')) {
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
  let ck: Checkpoint;
  try {
    ck = readVerified(id, root, step);
  } catch (e) {
    if (!(e instanceof CorruptCheckpointError)) throw e;
    throw new Error(`run ${id}: ${e.message}; a run that branches from it replays it from an earlier checkpoint (getOrRun), or delete ${rec.dir} to retrain`);
  }
  return { config: rec.config, step, params: ck.params };
}

/** Read one of a run's checkpoints, verified; an old checkpoint without checksums is said once. */
function readVerified(id: string, root: string, step: number): Checkpoint {
  const info = { verified: false };
  const ck = readCheckpoint(checkpointDir(root, step), info);
  if (!info.verified) warnUnverified(id, `checkpoint step ${step} was`);
  return ck;
}

/**
 * The newest of a run's checkpoints at or before `upTo` that verifies. Each corrupt one on the way is
 * moved aside (so nothing reads it again) and said, with where the run goes on from instead.
 */
function newestGoodCheckpoint(id: string, root: string, upTo: number, say: (m: string) => void): Checkpoint | undefined {
  for (const step of listCheckpoints(root).filter((s) => s <= upTo).reverse()) {
    try {
      return readVerified(id, root, step);
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      const aside = setAsideCheckpoint(root, step);
      const earlier = listCheckpoints(root).filter((s) => s < step).pop();
      say(`run ${id}: checkpoint step ${step} is corrupt (${e.message}); moved aside to ${path.basename(aside)}, ` +
        `going on from ${earlier !== undefined ? `checkpoint step ${earlier}` : 'the start'} instead (delete the moved folder once inspected)`);
    }
  }
  return undefined;
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
  const exact = () => {
    if (!listCheckpoints(root).includes(k)) return undefined;
    try {
      return readVerified(rec.id, root, k);
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      if (rec.dataHash !== data.manifestHash) {
        throw new Error(`run ${rec.id}: ${e.message}; it cannot be replayed (trained on data ${rec.dataHash}, not ${data.manifestHash}): delete ${rec.dir} and train it again`);
      }
      return undefined; // replayed below, from the newest earlier checkpoint that verifies
    }
  };
  const found = exact();
  if (found) return found;
  if (rec.dataHash !== data.manifestHash) throw new Error(`run ${rec.id}: no checkpoint at step ${k}, and it cannot be replayed: it was trained on data ${rec.dataHash}, not ${data.manifestHash}`);
  const lock = await acquireLock(rec.dir, { onWait: (h) => say(`waiting for ${rec.id} (locked by ${h})`) });
  try {
    const now = exact();
    if (now) return now;
    let start = newestGoodCheckpoint(rec.id, root, k, say);
    if (start?.step === k) return start;
    if (!start && cfg.parent) {
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
    return readVerified(rec.id, root, k);
  } finally {
    lock.release();
  }
}

/** Train, resume or return a run. A run that fails comes back with status "failed" and its error; the next call resumes it from its last good checkpoint. */
export async function getOrRun(config: RunConfig, opts: GetOrRunOptions = {}): Promise<RunRecord> {
  validateRunConfig(config, `config "${(config as { name?: string })?.name ?? '?'}"`);
  const say = opts.quiet ? () => {} : (m: string) => console.log(`[midtrain] ${m}`);
  // A mixture that samples a part of a role (an ablation) gets that part's shards beside the roles.
  const data = withMixtureParts(opts.data ?? (await loadData(config.preset)), config.kind === 'pretrain' ? config.mixture : undefined);
  const id = runId(config, data.manifestHash);
  const dir = runDir(id);
  const done = getRun(id);
  if (done?.status === 'finished') {
    say(`${config.name} (${id}): already finished, nothing to do`);
    opts.onOutcome?.('already-finished');
    return done;
  }
  if (config.parent) parentRecord(config);
  const lock = await acquireLock(dir, { pollMs: opts.pollMs, onWait: (h) => say(`${config.name} (${id}) is being trained by ${h}; waiting for it`) });
  try {
    const again = getRun(id);
    if (again?.status === 'finished') {
      say(`${config.name} (${id}): finished by another process`);
      opts.onOutcome?.('finished-by-another');
      return again;
    }
    await initBackend({ quiet: true });
    opts.onOutcome?.('trained');
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
  const ckRoot = path.join(dir, 'checkpoints');
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const configFile = path.join(dir, 'config.json');
  const configText = JSON.stringify(config, null, 2) + '\n';
  fs.mkdirSync(dir, { recursive: true });
  // Checksums of what run.json vouches for. metrics.jsonl is verified over its first `bytes` bytes; lines
  // appended later are covered by the next save, which syncs them first.
  const onDiskConfig = fs.existsSync(configFile) ? sha256(fs.readFileSync(configFile)) : undefined;
  const sums: Omit<RunChecksums, 'record'> = { config: [...new Set([sha256(configText), ...(onDiskConfig ? [onDiskConfig] : [])])], metrics: { bytes: 0, sha256: sha256('') } };
  const save = () => writeFileDurable(path.join(dir, 'run.json'), sealRecord({ ...record, updatedAt: now() }, sums));
  let metricsFd: number | undefined;
  const metricsHash = crypto.createHash('sha256');
  const saveSynced = () => {
    if (metricsFd !== undefined) fs.fsyncSync(metricsFd);
    sums.metrics = { bytes: sums.metrics.bytes, sha256: metricsHash.copy().digest('hex') };
    save();
  };

  try {
    // Where to start: own checkpoint (resume) › parent's checkpoint (branch / SFT) › fresh weights.
    let start: Checkpoint | undefined = newestGoodCheckpoint(id, ckRoot, Infinity, say);
    let resume = false;
    if (start) {
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
    // Metrics up to the start step stay (verified first); the steps to redo and a torn last line go. The
    // record vouching for the kept prefix is saved before the file is cut back to it, so at every moment
    // run.json's checksum covers bytes that are on disk.
    const old = resume ? Buffer.from(readVerifiedMetrics(id, metricsFile, openRun(id)?.checksums), 'utf8') : Buffer.alloc(0);
    const keepBytes = metricsPrefixBytes(old, start?.step ?? 0);
    metricsHash.update(old.subarray(0, keepBytes));
    sums.metrics = { bytes: keepBytes, sha256: metricsHash.copy().digest('hex') };
    save();
    writeFileDurable(configFile, configText);
    const cut = fs.openSync(metricsFile, fs.existsSync(metricsFile) ? 'r+' : 'w');
    try {
      fs.ftruncateSync(cut, keepBytes);
      fs.fsyncSync(cut);
    } finally {
      fs.closeSync(cut);
    }
    metricsFd = fs.openSync(metricsFile, 'a');

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
        const line = Buffer.from(JSON.stringify(log) + '\n', 'utf8');
        fs.writeSync(metricsFd, line);
        metricsHash.update(line);
        sums.metrics.bytes += line.byteLength;
        lastLoss = log.trainLoss;
        record.progress = { step: log.step, totalSteps };
        if (log.val || log.step % every === 0) saveSynced();
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
    saveSynced();
    say(`${config.name} (${id}): finished — train loss ${lastLoss.toFixed(4)}, val ${Object.entries(lastVal).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')}${result ? `, accuracy ${(100 * result.accuracy).toFixed(1)}%` : ''}`);
    return { ...record };
  } catch (e) {
    // A corrupt file of this run: saving a record now would vouch for it. Stop with its one line instead.
    if (e instanceof CorruptRunFileError) throw e;
    record.status = 'failed';
    record.error = failureLine(e as Error, listCheckpoints(ckRoot).pop());
    try {
      saveSynced();
    } catch (saving) {
      // Disk full, typically: the record cannot say it failed, so the error goes up (one line) instead;
      // the previous record and checkpoints are intact and the next call resumes from them.
      throw new Error(`${config.name} (${id}): ${record.error} (and run.json could not be updated: ${(saving as Error).message.split('\n')[0]})`);
    }
    say(`${config.name} (${id}): FAILED — ${record.error}`);
    return { ...record };
  } finally {
    if (metricsFd !== undefined) fs.closeSync(metricsFd);
  }
}

/** CPU model and architecture: runs on the same CPU backend and machine class reproduce bit for bit. */
export function machineClass(): string {
  return `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (${os.arch()})`;
}

/** One line for a failed run, saying what is on disk to go on from (never a checkpoint that does not exist). */
function failureLine(e: Error, lastCheckpoint: number | undefined): string {
  const first = e.message.split('\n')[0];
  const from = lastCheckpoint !== undefined ? `its last good checkpoint (step ${lastCheckpoint}) is kept and a rerun resumes from it` : 'no checkpoint was written yet, so a rerun starts from the beginning';
  if (e instanceof NonFiniteLossError) return `${first}; ${from}`;
  if (isDiskFull(e)) return `no space left on the device (${first}); free some space and rerun: ${from}`;
  return first;
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
