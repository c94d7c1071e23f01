// How data is named and chosen. A data config is a JSON file: "kind": "builtin" (the npm/Debian corpus at some
// size, data/configs/{tiny,small,pythia}.json) or a config of local files (the default kind; local/config.ts).
// It is chosen by name (a file in data/configs/) or by path, through `opts.dataConfig` or the
// MIDTRAIN_DATA_CONFIG environment variable (which reaches notebooks, workers and Slurm jobs started from that
// shell); with none chosen, a model preset loads its default built-in config (DEFAULT_DATA_CONFIG).
import * as fs from 'fs';
import * as path from 'path';
import { dataConfigDir, isDataConfigName } from './presets';

export type DataConfigKind = 'builtin' | 'local';

/** A chosen data config: its file and kind. */
export interface DataConfigRef { file: string; kind: DataConfigKind; /** The parsed JSON, unvalidated (validation is the kind's loader's). */ raw: { presets?: string[]; preset?: string; description?: string } }

/** Data configs in data/configs/, by name. */
export function listDataConfigs(): { name: string; file: string; kind: DataConfigKind; presets: string[]; description: string }[] {
  const dir = dataConfigDir();
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const file = path.join(dir, f);
    const { kind, raw } = resolveDataConfig(file);
    return { name: f.slice(0, -'.json'.length), file, kind, presets: raw.presets ?? (raw.preset ? [raw.preset] : []), description: raw.description ?? '' };
  });
}

/**
 * A name (data/configs/<name>.json) or a path to a data config, and its kind. A reference with a '/' or
 * ending in .json is a path; anything else is a name. One-line errors list the names there are.
 */
export function resolveDataConfig(ref: string): DataConfigRef {
  const isPath = ref.includes('/') || ref.includes(path.sep) || ref.endsWith('.json');
  const file = isPath ? path.resolve(ref) : path.join(dataConfigDir(), `${ref}.json`);
  if (!isPath && !isDataConfigName(ref)) throw new Error(`data config "${ref}": not a name (letters, digits, '-', '_', '.') nor a path`);
  if (!fs.existsSync(file)) {
    const names = fs.existsSync(dataConfigDir()) ? fs.readdirSync(dataConfigDir()).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];
    throw new Error(isPath ? `data config ${file} does not exist` : `data config "${ref}": no ${file} (named configs: ${names.join(', ') || 'none'}; or give a path)`);
  }
  let raw: unknown;
  try { raw = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`data config ${file}: not valid JSON (${(e as Error).message})`); }
  const kind = raw && typeof raw === 'object' ? (raw as { kind?: unknown }).kind : undefined;
  if (kind !== undefined && kind !== 'builtin' && kind !== 'local') throw new Error(`data config ${file}: kind must be "builtin" or "local", got ${JSON.stringify(kind)}`);
  return { file, kind: kind === 'builtin' ? 'builtin' : 'local', raw: raw as DataConfigRef['raw'] };
}

/** The reference chosen by the caller or the environment, if any (name or path, unresolved). */
export function chosenDataConfig(opts: { dataConfig?: string } = {}): string | undefined {
  return opts.dataConfig ?? (process.env.MIDTRAIN_DATA_CONFIG || undefined);
}
