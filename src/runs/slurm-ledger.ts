// Where a cache's Slurm submissions live and the ledger that maps each array job's tasks back to runs:
// read by the submitter (src/runs/slurm.ts) and by the store binding (src/runs/slurm-store.ts), which
// is why it sits apart from both.
import * as fs from 'fs';
import * as path from 'path';
import { cacheRoot as defaultCacheRoot } from '../config';
import type { LedgerEntry, StoreView } from './slurm-plan';

/** The store view slurm needs, plus what status can show about a failure. */
export interface SlurmStore extends StoreView {
  /** The store's error message of a failed run, if it recorded one. */
  errorOf?(id: string): string | undefined;
}

/** `<cacheRoot>/slurm`: scripts, ledger and logs of every submission. */
export function slurmDir(root: string = defaultCacheRoot()): string {
  return path.join(root, 'slurm');
}

/** Every ledger entry under `<slurmDir>/jobs`, oldest job first. */
export function readLedger(dir: string): LedgerEntry[] {
  const jobsDir = path.join(dir, 'jobs');
  if (!fs.existsSync(jobsDir)) return [];
  const out: LedgerEntry[] = [];
  for (const f of fs.readdirSync(jobsDir)) {
    if (!/^\d+\.json$/.test(f)) continue;
    const file = path.join(jobsDir, f);
    let entry: LedgerEntry;
    try {
      entry = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`slurm: ${file}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof entry.jobId !== 'string' || !Array.isArray(entry.runIds)) throw new Error(`slurm: ${file}: expected { jobId, runIds[] }`);
    out.push(entry);
  }
  return out.sort((a, b) => Number(a.jobId) - Number(b.jobId));
}
