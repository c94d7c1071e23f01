// Checksums of the files the run store relies on, verified on every load:
//   run.json       carries `checksums`: the sha256 of the record itself (its JSON without that field),
//                  of config.json, and of metrics.jsonl up to the last line written before the record;
//   config.json    verified against run.json's checksum of it;
//   metrics.jsonl  its first `bytes` bytes verified against run.json; lines appended after the record was
//                  last saved are newer than any checksum and read as they are (a torn last line skipped).
// Checkpoints carry their own checksums (src/train/checkpoint.ts). Records written before checksums
// existed still load; each such run is reported once per process as unverified.
import * as fs from 'fs';
import * as path from 'path';
import type { RunRecord } from './types';
import { sha256 } from '../durable';

export interface RunChecksums {
  /** sha256 of the record's JSON (compact, fields in written order) without `checksums`. */
  record: string;
  /** sha256s config.json may have: the text this record was saved with, and the one on disk before it
   * (config.json is rewritten after the record, so a crash between the two leaves the older text). */
  config: string[];
  /** The verified prefix of metrics.jsonl. */
  metrics: { bytes: number; sha256: string };
}

/** A file of the run store whose bytes do not match its checksum, or that cannot be parsed. */
export class CorruptRunFileError extends Error {
  constructor(readonly runId: string, readonly file: string, why: string, whatToDo: string) {
    super(`run ${runId}: ${file} ${why}; ${whatToDo}`);
  }
}

const warnedUnverified = new Set<string>();

/** One line, once per run per process: this run's files predate checksums. */
export function warnUnverified(id: string, what: string): void {
  const key = `${id}:${what}`;
  if (warnedUnverified.has(key)) return;
  warnedUnverified.add(key);
  console.error(`[midtrain] run ${id}: ${what} written before checksums existed; loaded unverified`);
}

/** The text of run.json: the record plus its checksums. */
export function sealRecord(record: RunRecord, files: Omit<RunChecksums, 'record'>): string {
  const { checksums: _, ...plain } = record as RunRecord & { checksums?: RunChecksums };
  const sealed = { ...plain, checksums: { record: sha256(JSON.stringify(plain)), ...files } };
  return JSON.stringify(sealed, null, 2) + '\n';
}

/** Parse and verify run.json's text; the checksums come back separately (undefined for an old record). */
export function openRecord(text: string, file: string, id: string): { record: RunRecord; checksums?: RunChecksums } {
  const redo = `restore ${file} from a backup, or delete ${path.dirname(file)} to train the run again`;
  let parsed: RunRecord & { checksums?: RunChecksums };
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CorruptRunFileError(id, file, `is not valid JSON (${(e as Error).message.split('\n')[0]})`, redo);
  }
  const { checksums, ...record } = parsed;
  if (!checksums) {
    warnUnverified(id, 'run.json, config.json and metrics.jsonl were');
    return { record };
  }
  if (sha256(JSON.stringify(record)) !== checksums.record) throw new CorruptRunFileError(id, file, 'does not match its checksum (corrupted)', redo);
  return { record, checksums };
}

/** Verify config.json against the record's checksums (a missing config.json is not an error: run.json holds the config). */
export function verifyConfigFile(id: string, file: string, checksums: RunChecksums | undefined): void {
  if (!checksums || !fs.existsSync(file)) return;
  if (!checksums.config.includes(sha256(fs.readFileSync(file)))) {
    throw new CorruptRunFileError(id, file, 'does not match its checksum in run.json (corrupted)', `delete it; the next run of this config rewrites it from run.json`);
  }
}

/** Verify metrics.jsonl's recorded prefix; returns the whole file's text. */
export function readVerifiedMetrics(id: string, file: string, checksums: RunChecksums | undefined): string {
  if (!fs.existsSync(file)) {
    if (checksums && checksums.metrics.bytes > 0) throw new CorruptRunFileError(id, file, 'is missing', `delete ${path.dirname(file)} to train the run again`);
    return '';
  }
  const bytes = fs.readFileSync(file);
  if (checksums) {
    const { bytes: n, sha256: want } = checksums.metrics;
    if (bytes.byteLength < n || sha256(bytes.subarray(0, n)) !== want) {
      throw new CorruptRunFileError(id, file, `does not match its checksum in run.json over its first ${n} bytes (corrupted or truncated)`, `delete ${path.dirname(file)} to train the run again`);
    }
  }
  return bytes.toString('utf8');
}

/**
 * The byte length of the part of metrics.jsonl to keep when a run restarts from `step`: every complete
 * line up to that step (lines are in step order), so a torn last line and the steps to be redone go.
 */
export function metricsPrefixBytes(text: Buffer, step: number): number {
  let end = 0;
  let start = 0;
  for (;;) {
    const nl = text.indexOf(0x0a, start);
    if (nl < 0) return end; // a last line without its newline is torn
    const line = text.subarray(start, nl).toString('utf8');
    if (line.trim()) {
      let s: number;
      try {
        s = JSON.parse(line).step;
      } catch {
        return end;
      }
      if (!(s <= step)) return end;
    }
    end = nl + 1;
    start = nl + 1;
  }
}
