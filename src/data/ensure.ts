// Which data a preset trains on: the data config chosen by name or path (configs.ts), else the preset's
// default built-in one. The bundle's manifestHash (for built-in data: the shards, tokenizer and SFT files;
// for local files: also the config's content and every source file's sha256) is what run ids are built on.
import type { PresetName } from '../config';
import type { DataBundle } from './types';
import { ensureData as ensureBuiltinData, readManifest, type DataManifest } from './build';
import { ensureLocalData } from './local/build';
import { chosenDataConfig, resolveDataConfig } from './configs';
import { builtinSizes, readBuiltinConfig, type DataPreset } from './presets';

export { chosenDataConfig } from './configs';

export interface EnsureDataOptions {
  quiet?: boolean;
  /** A data config's name (data/configs/<name>.json) or path; default: MIDTRAIN_DATA_CONFIG, else the preset's built-in default. */
  dataConfig?: string;
}

/** The chosen data: built-in sizes for this preset (undefined sizes: its default), or a local-files config. */
function chosen(preset: PresetName, opts: EnsureDataOptions): { builtin: true; sizes?: DataPreset } | { builtin: false; file: string } {
  const ref = chosenDataConfig(opts);
  if (!ref) return { builtin: true };
  const { file, kind } = resolveDataConfig(ref);
  return kind === 'builtin' ? { builtin: true, sizes: builtinSizes(readBuiltinConfig(file), preset, file) } : { builtin: false, file };
}

/** Build what is missing for a preset (idempotent; fast when built) and return the bundle. */
export async function ensureData(preset: PresetName, opts: EnsureDataOptions = {}): Promise<DataBundle> {
  const c = chosen(preset, opts);
  return c.builtin ? ensureBuiltinData(preset, { quiet: opts.quiet, sizes: c.sizes }) : ensureLocalData(c.file, preset, { quiet: opts.quiet });
}

/**
 * The manifest of the built-in data a preset loads under the current choice (its default, or a built-in config
 * chosen by name or path); undefined when a config of local files is chosen. Read only: build it first.
 */
export function chosenBuiltinManifest(preset: PresetName, opts: EnsureDataOptions = {}): DataManifest | undefined {
  const c = chosen(preset, opts);
  return c.builtin ? readManifest(preset, c.sizes) : undefined;
}
