// Which data a preset trains on: the built-in npm/Debian corpus, or a data config of local files when one is
// chosen, by `opts.dataConfig` or the MIDTRAIN_DATA_CONFIG environment variable (a path to its JSON; it
// reaches notebooks, workers and Slurm jobs started from that shell). The bundle's manifestHash (config
// content, tokenizer and every source file's sha256 for a data config) is what run ids are built on.
import type { PresetName } from '../config';
import type { DataBundle } from './types';
import { ensureData as ensureBuiltinData } from './build';
import { ensureLocalData } from './local/build';

export interface EnsureDataOptions {
  quiet?: boolean;
  /** Path of a data config (JSON); default: MIDTRAIN_DATA_CONFIG, else the built-in corpus. */
  dataConfig?: string;
}

/** The chosen data config's path, if any. */
export function chosenDataConfig(opts: EnsureDataOptions = {}): string | undefined {
  return opts.dataConfig ?? (process.env.MIDTRAIN_DATA_CONFIG || undefined);
}

/** Build what is missing for a preset (idempotent; fast when built) and return the bundle. */
export async function ensureData(preset: PresetName, opts: EnsureDataOptions = {}): Promise<DataBundle> {
  const config = chosenDataConfig(opts);
  if (config) return ensureLocalData(config, preset, { quiet: opts.quiet });
  return ensureBuiltinData(preset, opts);
}
