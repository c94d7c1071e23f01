// Checkpoints: weights + AdamW moments + step + sampler/RNG state, as one binary file of float32 tensors
// (concatenated, little-endian) plus a JSON index. Written into a temporary folder and renamed into place,
// so a reader (or a process killed mid-write) never sees half a checkpoint.
import * as fs from 'fs';
import * as path from 'path';
import type { AdamState } from './optim';

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
}

const FORMAT = 'midtrain-checkpoint-1';

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
  const fd = fs.openSync(path.join(tmp, 'weights.bin'), 'w');
  for (const [, arrays] of groups) {
    for (const a of Object.values(arrays)) fs.writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const index: CheckpointIndex = { format: FORMAT, step: ck.step, adamT: ck.adam?.t, sampler: ck.sampler, extra: ck.extra, tensors };
  fs.writeFileSync(path.join(tmp, 'index.json'), JSON.stringify(index));
  fs.renameSync(tmp, final);
  return final;
}

/** Read a checkpoint folder; a one-line error names the file when it is missing or corrupt. */
export function readCheckpoint(dir: string): Checkpoint {
  const indexPath = path.join(dir, 'index.json');
  const binPath = path.join(dir, 'weights.bin');
  let index: CheckpointIndex;
  try {
    index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new Error(`${indexPath}: cannot read checkpoint index (${(e as Error).message.split('\n')[0]})`);
  }
  if (index.format !== FORMAT) throw new Error(`${indexPath}: unknown checkpoint format ${JSON.stringify(index.format)}`);
  const buf = fs.readFileSync(binPath);
  const total = index.tensors.reduce((n, t) => n + t.length, 0);
  if (buf.byteLength !== total * 4) throw new Error(`${binPath}: ${buf.byteLength} bytes, index expects ${total * 4}`);
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

/** Delete checkpoint folders whose step is not in `keep` (and any leftover temp folders). */
export function pruneCheckpoints(root: string, keep: Set<number>): void {
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) {
    const m = /^step-(\d+)(\.tmp-.*)?$/.exec(name);
    if (!m) continue;
    if (m[2] || !keep.has(Number(m[1]))) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}
