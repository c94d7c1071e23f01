// Checkpoints: weights + AdamW moments + step + sampler/RNG state, as one binary file of float32 tensors
// (concatenated, little-endian) plus a JSON index. Written into a temporary folder, synced and renamed into
// place, so a reader (or a process killed mid-write) never sees half a checkpoint.
//
// Integrity: the index carries the sha256 of weights.bin (computed while writing it, so it costs one pass
// over bytes already in memory) and of the index itself; every read verifies both. sha256 because OpenSSL
// runs it with the CPU's SHA extensions at about the speed a disk writes and fsyncs, or faster (bench/hash.ts
// measures both in one run), it is what the data shards use, and it leaves no doubt; zlib's crc32 is cheaper
// still but 32 bits. Checkpoints written before checksums existed still load; the caller is told they are
// unverified.
import * as fs from 'fs';
import * as path from 'path';
import type { AdamState } from './optim';
import { fsyncDir, publishDir, sha256, writeSynced } from '../durable';

export interface Checkpoint {
  /** Optimizer steps completed. */
  step: number;
  params: Record<string, Float32Array>;
  /** Absent for weights-only checkpoints. */
  adam?: AdamState;
  /** Draws for step s depend only on (seed, s), so this pins the data stream and RNG exactly. */
  sampler: { seed: number; step: number };
  /** Anything else the trainer wants back on resume (e.g. tokens seen). */
  extra?: Record<string, unknown>;
}

interface IndexEntry {
  name: string;
  group: 'param' | 'm' | 'v';
  offset: number;
  length: number;
}

interface CheckpointIndex {
  format: 'midtrain-checkpoint-1';
  step: number;
  adamT?: number;
  sampler: Checkpoint['sampler'];
  extra?: Record<string, unknown>;
  tensors: IndexEntry[];
  /** sha256 of weights.bin, and of this index's JSON without this field. Absent in older checkpoints. */
  sha256?: { weights: string; index: string };
}

const FORMAT = 'midtrain-checkpoint-1';

/** A checkpoint whose bytes do not match its checksums (or cannot be parsed): never to be trained from. */
export class CorruptCheckpointError extends Error {
  constructor(readonly file: string, why: string) {
    super(`${file}: ${why}`);
  }
}

/** What a read learned besides the checkpoint: whether checksums were there to verify. */
export interface ReadInfo {
  verified: boolean;
}

/** The folder of the checkpoint for `step` under a run's checkpoints folder. */
export function checkpointDir(root: string, step: number): string {
  return path.join(root, `step-${String(step).padStart(7, '0')}`);
}

/** Steps of the complete checkpoints under `root`, ascending. */
export function listCheckpoints(root: string): number[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(root, m[0], 'index.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Write atomically: temp folder → rename. An existing checkpoint of the same step is left as is (same content by determinism). */
export function writeCheckpoint(root: string, ck: Checkpoint): string {
  const final = checkpointDir(root, ck.step);
  if (fs.existsSync(path.join(final, 'index.json'))) return final;
  fs.mkdirSync(root, { recursive: true });
  const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  const groups: [IndexEntry['group'], Record<string, Float32Array>][] = [['param', ck.params]];
  if (ck.adam) groups.push(['m', ck.adam.m], ['v', ck.adam.v]);
  const tensors: IndexEntry[] = [];
  let offset = 0;
  for (const [group, arrays] of groups) {
    for (const [name, a] of Object.entries(arrays)) {
      tensors.push({ name, group, offset, length: a.length });
      offset += a.length;
    }
  }
  try {
    const chunks = groups.flatMap(([, arrays]) => Object.values(arrays).map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
    const weights = writeSynced(path.join(tmp, 'weights.bin'), chunks);
    const index: CheckpointIndex = { format: FORMAT, step: ck.step, adamT: ck.adam?.t, sampler: ck.sampler, extra: ck.extra, tensors };
    const text = JSON.stringify({ ...index, sha256: { weights, index: sha256(JSON.stringify(index)) } });
    writeSynced(path.join(tmp, 'index.json'), [text]);
    publishDir(tmp, final);
  } catch (e) {
    // Disk full or similar: leave no half-written folder behind (older checkpoints are untouched).
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return final;
}

/**
 * Read a checkpoint folder, verifying its checksums. Missing or corrupt files throw a
 * CorruptCheckpointError naming the file; `info.verified` is false for a checkpoint without checksums.
 */
export function readCheckpoint(dir: string, info: ReadInfo = { verified: false }): Checkpoint {
  const indexPath = path.join(dir, 'index.json');
  const binPath = path.join(dir, 'weights.bin');
  let index: CheckpointIndex;
  try {
    index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new CorruptCheckpointError(indexPath, `cannot read checkpoint index (${(e as Error).message.split('\n')[0]})`);
  }
  if (index.format !== FORMAT) throw new CorruptCheckpointError(indexPath, `unknown checkpoint format ${JSON.stringify(index.format)}`);
  const sums = index.sha256;
  if (sums) {
    const { sha256: _, ...rest } = index;
    if (sha256(JSON.stringify(rest)) !== sums.index) throw new CorruptCheckpointError(indexPath, 'does not match its checksum (corrupted)');
  }
  let buf: Buffer;
  try {
    buf = fs.readFileSync(binPath);
  } catch (e) {
    throw new CorruptCheckpointError(binPath, `cannot read (${(e as Error).message.split('\n')[0]})`);
  }
  const total = index.tensors.reduce((n, t) => n + t.length, 0);
  if (buf.byteLength !== total * 4) throw new CorruptCheckpointError(binPath, `${buf.byteLength} bytes, index expects ${total * 4}`);
  if (sums && sha256(buf) !== sums.weights) throw new CorruptCheckpointError(binPath, 'does not match its checksum (corrupted)');
  info.verified = sums !== undefined;
  // Copy into an aligned buffer (a Node Buffer's offset need not be a multiple of 4).
  const all = new Float32Array(total);
  new Uint8Array(all.buffer).set(buf);
  const params: Record<string, Float32Array> = {};
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const t of index.tensors) {
    const a = all.subarray(t.offset, t.offset + t.length);
    (t.group === 'param' ? params : t.group === 'm' ? m : v)[t.name] = a;
  }
  const adam = index.adamT !== undefined ? { t: index.adamT, m, v } : undefined;
  return { step: index.step, params, adam, sampler: index.sampler, extra: index.extra };
}

/**
 * Move a corrupt checkpoint out of the way (renamed `step-N.corrupt-<time>`, kept for inspection) so no
 * reader finds it again; returns the new path.
 */
export function setAsideCheckpoint(root: string, step: number): string {
  const from = checkpointDir(root, step);
  const to = `${from}.corrupt-${new Date().toISOString().replace(/[-:.]/g, '')}`;
  fs.renameSync(from, to);
  fsyncDir(root);
  return to;
}

/** Delete checkpoint folders whose step is not in `keep` (and any leftover temp folders). */
export function pruneCheckpoints(root: string, keep: Set<number>): void {
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) {
    const m = /^step-(\d+)(\.tmp-.*)?$/.exec(name);
    if (!m) continue;
    if (m[2] || !keep.has(Number(m[1]))) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}
