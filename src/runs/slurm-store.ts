// Binds the Slurm submission (src/runs/slurm.ts) to the real run store and data layer: run ids come
// from the store's runId over the preset's data manifest hash, statuses from runStatus. Kept apart from
// slurm.ts so planning and submitting stay testable without loading tfjs or building data.
import * as fs from 'fs';
import * as path from 'path';
import { cacheRoot } from '../config';
import type { RunConfig } from './types';
import { getRun, listRuns, runId, runStatus } from './store';
import { readLedger, slurmDir, type SlurmStore } from './slurm-ledger';

/**
 * The run store as Slurm planning sees it. Builds (or loads) each preset's data on this host first:
 * run ids depend on its manifest hash, and array tasks then find the data built instead of racing
 * to build it. `known` gives ids already known (ledger, store records) without touching the data.
 */
export async function runStoreView(configs: RunConfig[], known: Map<RunConfig, string> = new Map()): Promise<SlurmStore> {
  const hashes = new Map<string, string>();
  const presets = new Set(configs.filter((c) => !known.has(c)).map((c) => c.preset));
  if (presets.size) {
    const { ensureData } = await import('../data');
    for (const preset of presets) hashes.set(preset, (await ensureData(preset, { quiet: true })).manifestHash);
  }
  return {
    idOf: (c) => known.get(c) ?? runId(c, hashes.get(c.preset) ?? missingHash(c)),
    statusOf: (id) => runStatus(id),
    errorOf: (id) => getRun(id)?.error,
  };
}

function missingHash(c: RunConfig): never {
  throw new Error(`slurm: no data hash for preset "${c.preset}" of run "${c.name}" (not among the configs the store view was built for)`);
}

/**
 * Every run this cache knows of: those in the run store and those submitted to Slurm (from the ledger's
 * config files), with their ids, each once. What `midtrain status` shows without a sweep file.
 */
export function knownRuns(root: string = cacheRoot()): { configs: RunConfig[]; ids: Map<RunConfig, string> } {
  const ids = new Map<RunConfig, string>();
  const seen = new Set<string>();
  const add = (config: RunConfig, id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    ids.set(config, id);
  };
  for (const rec of listRuns()) add(rec.config, rec.id);
  for (const entry of readLedger(slurmDir(root))) {
    entry.runIds.forEach((id, i) => {
      const file = entry.configs?.[i];
      if (seen.has(id) || !file || !fs.existsSync(file)) return;
      try {
        add(JSON.parse(fs.readFileSync(file, 'utf8')), id);
      } catch (e) {
        throw new Error(`slurm: ${path.resolve(file)}: not valid JSON (${(e as Error).message})`);
      }
    });
  }
  return { configs: [...ids.keys()], ids };
}
