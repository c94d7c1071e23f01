// The files a notebook leaves in reports/<preset>/: CSV per table, PNG/HTML per figure (export.ts), a
// machine-checkable <notebook>.json listing what it produced, and runs.json — the configs, code versions and
// data manifest hash of every run behind the numbers, so a committed report names exactly what made it.
import * as fs from 'fs';
import * as path from 'path';
import type { ExperimentResult } from '../experiments/result';
import type { RunConfig, RunStatus, RunSummary } from '../runs/types';
import type { Table } from './tables';
import { writeFileAtomic } from './export';

export interface TableArtifact {
  name: string;
  rows: number;
  columns: string[];
  /** Path relative to reports/<preset>/. */
  csv: string;
}

export interface FigureArtifact {
  name: string;
  /** Number of traces and of plotted points: a figure with none is an empty plot. */
  traces: number;
  points: number;
  /** Paths relative to reports/<preset>/ of the files export.ts wrote. */
  files: string[];
}

export interface NotebookArtifact {
  notebook: string;
  preset: string;
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

/** Read and check a notebook's artifact: throws one line naming the file and what is missing. */
export function readNotebookArtifact(file: string): NotebookArtifact {
  if (!fs.existsSync(file)) throw new Error(`report: ${file} does not exist (the notebook did not finish)`);
  const a = JSON.parse(fs.readFileSync(file, 'utf8')) as NotebookArtifact;
  for (const k of ['notebook', 'preset', 'tables', 'figures', 'runs', 'dataHash'] as const) {
    if (a[k] === undefined) throw new Error(`report: ${file}: field "${k}" is missing`);
  }
  return a;
}
