// The files a notebook leaves in reports/<preset>/: CSV per table, PNG/HTML per figure (export.ts), a
// machine-checkable <notebook>.json listing what it produced, and runs.json — the configs, code versions and
// data manifest hash of every run behind the numbers, so a committed report names exactly what made it.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { projectRoot } from '../config';
import type { ExperimentResult } from '../experiments/result';
import type { RunConfig, RunStatus, RunSummary } from '../runs/types';
import type { Table } from './tables';
import { writeFileAtomic } from './export';

export interface TableArtifact {
  name: string;
  /** What the table shows, in words, and what its intervals cover (shown above it). */
  title?: string;
  caption?: string;
  rows: number;
  columns: string[];
  /** Path relative to reports/<preset>/. */
  csv: string;
}

export interface FigureArtifact {
  name: string;
  /** The line under the figure: what to look at, which way is better. */
  caption?: string;
  /** Number of traces and of plotted points: a figure with none is an empty plot. */
  traces: number;
  points: number;
  /** Paths relative to reports/<preset>/ of the files export.ts wrote. */
  files: string[];
}

export interface NotebookArtifact {
  notebook: string;
  preset: string;
  /** Content hash of the code that produced it (src/ and notebooks/, see codeHash) and the git commit it sat on. */
  codeHash: string;
  git: string;
  experiments: string[];
  dataHash: string[];
  codeVersion: string[];
  runs: string[];
  tables: TableArtifact[];
  figures: FigureArtifact[];
}

export interface RunEntry {
  name: string;
  kind: RunConfig['kind'];
  status: RunStatus;
  parentId?: string;
  codeVersion: string;
  dataHash: string;
  config: RunConfig;
  summary?: RunSummary;
}

/** RFC 4180 CSV of a table (arquero's own writer, kept behind one name). */
export function tableCsv(t: Table): string {
  return t.toCSV();
}

/** Add an experiment's runs to reports/<preset>/runs.json (merged by id; sorted so the file diffs cleanly). */
export function recordRuns(dir: string, results: ExperimentResult[]): Record<string, RunEntry> {
  const file = path.join(dir, 'runs.json');
  let runs: Record<string, RunEntry> = {};
  if (fs.existsSync(file)) {
    try {
      runs = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`report: ${file} is not valid JSON (${(e as Error).message}); delete it to rebuild it from the run store`);
    }
  }
  for (const r of results) {
    for (const p of r.plan.runs) {
      const rec = r.records[p.id];
      if (!rec) continue;
      runs[p.id] = {
        name: p.config.name, kind: p.config.kind, status: rec.status, ...(rec.parentId ? { parentId: rec.parentId } : {}),
        codeVersion: rec.codeVersion, dataHash: rec.dataHash, config: rec.config, ...(rec.summary ? { summary: rec.summary } : {}),
      };
    }
  }
  const sorted = Object.fromEntries(Object.entries(runs).sort(([a], [b]) => a.localeCompare(b)));
  writeFileAtomic(file, JSON.stringify(sorted, null, 1) + '\n');
  return sorted;
}

/** The distinct data manifest hashes and code versions behind a set of results. */
export function provenance(results: ExperimentResult[]): { dataHash: string[]; codeVersion: string[]; runs: string[] } {
  const dataHash = new Set<string>();
  const codeVersion = new Set<string>();
  const runs = new Set<string>();
  for (const r of results) {
    dataHash.add(r.plan.dataHash);
    for (const p of r.plan.runs) {
      runs.add(p.id);
      const rec = r.records[p.id];
      if (rec) { dataHash.add(rec.dataHash); codeVersion.add(rec.codeVersion); }
    }
  }
  return { dataHash: [...dataHash].sort(), codeVersion: [...codeVersion].sort(), runs: [...runs].sort() };
}

/**
 * sha256 (first 16 hex) over every file of src/ and notebooks/ (path and bytes, sorted): the code a report
 * was made with. A committed report whose codeHash equals the tree's was produced by the code in that commit.
 */
export function codeHash(root = projectRoot()): string {
  const h = crypto.createHash('sha256');
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && !e.name.startsWith('.')) h.update(r).update('\0').update(fs.readFileSync(path.join(root, r))).update('\0');
    }
  };
  walk('src');
  walk('notebooks');
  return h.digest('hex').slice(0, 16);
}

/** The git commit the working tree sits on, with "+dirty" when src/ or notebooks/ differ from it ("unknown" outside git). */
export function gitDescribe(root = projectRoot()): string {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'notebooks'], { cwd: root, encoding: 'utf8' });
  return head.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '');
}

/** Read and check a notebook's artifact: throws one line naming the file and what is missing. */
export function readNotebookArtifact(file: string): NotebookArtifact {
  if (!fs.existsSync(file)) throw new Error(`report: ${file} does not exist (the notebook did not finish)`);
  const a = JSON.parse(fs.readFileSync(file, 'utf8')) as NotebookArtifact;
  for (const k of ['notebook', 'preset', 'codeHash', 'tables', 'figures', 'runs', 'dataHash'] as const) {
    if (a[k] === undefined) throw new Error(`report: ${file}: field "${k}" is missing`);
  }
  return a;
}
