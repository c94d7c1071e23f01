// A data config of local files: JSON that maps each role and SFT task to files on local disk (the hub's Parquet
// and JSON Lines shards, folders of text), with the tokenizer.json to encode them. It is how a preset gets its
// own data: `MIDTRAIN_DATA_CONFIG=path/to/config.json` or a name in data/configs/ (see ../configs.ts) makes
// every ensureData(config.preset) build and load it instead of the built-in npm/Debian corpus. Its content hash
// (with every source file's size and sha256) becomes the bundle's data hash, so it is part of every run id.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { PRESETS, ROLES, SFT_TASKS, type PresetName, type Role, type SftTaskName } from '../../config';
import { isDataConfigName } from '../presets';

export const FORMATS = ['jsonl', 'jsonl.gz', 'jsonl.zst', 'parquet', 'text'] as const;
export type SourceFormat = (typeof FORMATS)[number];

/** Where documents come from: files matching a glob, in one format, and how a record becomes text. */
export interface FileSourceSpec {
  /** Glob relative to the config file's folder (or absolute): `*`, `?`, `**`, `{a,b}`. */
  glob: string;
  format: SourceFormat;
  /** The record field holding the text (C4, DCLM: "text"; StarCoder: "content"). Not used for format "text". */
  text?: string;
  /** Or a template over fields: "{inputs}\n\n{targets}" (FLAN), "{question}\n\n{generated_solution}" (math). */
  template?: string;
}

/**
 * Or a built-in role's cleaned documents (the npm/Debian corpus, leak-filtered, before any size cap), as
 * built for a built-in data config (its seed and synthetic math problems): keep the built-in code role while
 * bringing your own C4, say. Split by this config's valShare like any file.
 */
export interface BuiltinSourceSpec {
  builtin: Role;
  /** The built-in data config (data/configs/<from>.json) whose extraction settings are used. */
  from: string;
}

export type SourceSpec = FileSourceSpec | BuiltinSourceSpec;

export function isBuiltinSource(s: SourceSpec): s is BuiltinSourceSpec { return 'builtin' in s; }

export interface RoleFilters {
  /** Documents shorter / longer than this many characters are dropped. */
  minChars?: number;
  maxChars?: number;
  /** "exact": drop later copies of a document with the same text (hashed into on-disk buckets: memory stays bounded); "off". */
  dedup?: 'exact' | 'off';
}

export interface RoleSpec {
  sources: SourceSpec[];
  filters?: RoleFilters;
  /** Share of documents held out for val, chosen by a seeded hash of (file, record index). */
  valShare: number;
}

export const SFT_KINDS = ['gsm8k', 'sciq', 'codesearchnet-python', 'lima'] as const;
export type SftKind = (typeof SFT_KINDS)[number];

/** An SFT task from a dataset's own files. Missing val/test splits are carved from train by a seeded hash. */
export interface SftSpec {
  kind: SftKind;
  format: SourceFormat;
  train: string;
  val?: string;
  test?: string;
  /** Examples kept per split at most (CodeSearchNet: the paper caps training at 10k). */
  cap?: { train?: number; val?: number; test?: number };
  /** Share of train carved out for each missing val / test split (default 0.1). */
  carveShare?: number;
  /** Examples whose prompt + response exceed this many characters are dropped (default: none). */
  maxChars?: number;
}

export interface DataConfig {
  /** Names the built data: <cache>/data/local-<name>-<hash>. Letters, digits, '-', '_', '.'. */
  name: string;
  /** The model and protocol preset this data is for (sizes of models and runs come from it). */
  preset: PresetName;
  tokenizer: { path: string; eosToken?: string; padTo?: number };
  /** Training tokens the preset's pretraining runs see (steps = tokens / (batch × context)); default: the preset's own. */
  tokenBudget?: number;
  seed?: number;
  roles: Record<Role, RoleSpec>;
  sft: Record<SftTaskName, SftSpec>;
}

/** A validated config with its file, folder (for relative paths) and content hash. */
export interface LoadedDataConfig {
  file: string;
  dir: string;
  config: DataConfig;
  /** sha256 (16 hex) of the config's canonical JSON: the build folder's name and part of the data hash. */
  hash: string;
}

function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => Array.isArray(x) ? x.map(sort)
    : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x as object).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])])) : x;
  return JSON.stringify(sort(v));
}

/** Fields of a template, "{a}" or "{a.b}" (dotted paths into nested records). */
export function templateFields(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z0-9_.]+)\}/g)].map((m) => m[1]);
}

/** Read and validate a data config; every error is one line naming the file and the field. */
export function loadDataConfig(file: string): LoadedDataConfig {
  const abs = path.resolve(file);
  let text: string;
  try { text = fs.readFileSync(abs, 'utf8'); } catch (e) { throw new Error(`data config ${abs}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new Error(`data config ${abs}: not valid JSON (${(e as Error).message})`); }
  const config = validateDataConfig(raw, abs);
  return { file: abs, dir: path.dirname(abs), config, hash: crypto.createHash('sha256').update(canonical(config)).digest('hex').slice(0, 16) };
}

export function validateDataConfig(raw: unknown, file: string): DataConfig {
  const fail = (field: string, why: string): never => { throw new Error(`data config ${file}: ${field} ${why}`); };
  const obj = (v: unknown, field: string): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : fail(field, `must be an object, got ${JSON.stringify(v)}`));
  const known = (o: Record<string, unknown>, field: string, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${field ? field + '.' : ''}${k}`, `is not a known field (known: ${keys.join(', ')})`);
  };
  const str = (v: unknown, field: string): string => (typeof v === 'string' && v.length > 0 ? v : fail(field, `must be a non-empty string, got ${JSON.stringify(v)}`));
  const posInt = (v: unknown, field: string): number => (Number.isInteger(v) && (v as number) > 0 ? v as number : fail(field, `must be a positive integer, got ${JSON.stringify(v)}`));
  const share = (v: unknown, field: string, max: number): number => (typeof v === 'number' && v >= 0 && v < max ? v : fail(field, `must be a number in [0, ${max}), got ${JSON.stringify(v)}`));
  const format = (v: unknown, field: string): SourceFormat => ((FORMATS as readonly unknown[]).includes(v) ? v as SourceFormat : fail(field, `must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(v)}`));

  const c = obj(raw, '(root)');
  known(c, '', ['kind', 'name', 'preset', 'tokenizer', 'tokenBudget', 'seed', 'roles', 'sft', 'description']);
  if (c.kind !== undefined && c.kind !== 'local') fail('kind', `must be "local" (or absent) for a config of local files, got ${JSON.stringify(c.kind)}`);
  const name = str(c.name, 'name');
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) fail('name', `must use letters, digits, '-', '_' or '.', got ${JSON.stringify(name)}`);
  const preset = ((PRESETS as readonly unknown[]).includes(c.preset) ? c.preset : fail('preset', `must be one of ${PRESETS.join(', ')}, got ${JSON.stringify(c.preset)}`)) as PresetName;
  const t = obj(c.tokenizer, 'tokenizer');
  known(t, 'tokenizer', ['path', 'eosToken', 'padTo']);
  const tokenizer = { path: str(t.path, 'tokenizer.path'), ...(t.eosToken !== undefined ? { eosToken: str(t.eosToken, 'tokenizer.eosToken') } : {}), ...(t.padTo !== undefined ? { padTo: posInt(t.padTo, 'tokenizer.padTo') } : {}) };
  const out: DataConfig = { name, preset, tokenizer, roles: {} as Record<Role, RoleSpec>, sft: {} as Record<SftTaskName, SftSpec> };
  if (c.tokenBudget !== undefined) out.tokenBudget = posInt(c.tokenBudget, 'tokenBudget');
  if (c.seed !== undefined) out.seed = Number.isInteger(c.seed) ? c.seed as number : fail('seed', `must be an integer, got ${JSON.stringify(c.seed)}`);

  const roles = obj(c.roles, 'roles');
  known(roles, 'roles', [...ROLES]);
  for (const role of ROLES) {
    const f = `roles.${role}`;
    if (roles[role] === undefined) fail(f, `is missing (every role needs sources: ${ROLES.join(', ')})`);
    const r = obj(roles[role], f);
    known(r, f, ['sources', 'filters', 'valShare']);
    if (!Array.isArray(r.sources) || r.sources.length === 0) fail(`${f}.sources`, 'must be a non-empty array');
    const sources = (r.sources as unknown[]).map((s, i): SourceSpec => {
      const sf = `${f}.sources[${i}]`;
      const o = obj(s, sf);
      if (o.builtin !== undefined) {
        known(o, sf, ['builtin', 'from']);
        const b = (ROLES as readonly unknown[]).includes(o.builtin) ? o.builtin as Role : fail(`${sf}.builtin`, `must be a role (${ROLES.join(', ')}), got ${JSON.stringify(o.builtin)}`);
        const from = str(o.from, `${sf}.from`);
        if (!isDataConfigName(from)) fail(`${sf}.from`, `must name a built-in data config in data/configs/, got ${JSON.stringify(from)}`);
        return { builtin: b, from };
      }
      known(o, sf, ['glob', 'format', 'text', 'template', 'builtin', 'from']);
      const spec: FileSourceSpec = { glob: str(o.glob, `${sf}.glob`), format: format(o.format, `${sf}.format`) };
      if (o.text !== undefined) spec.text = str(o.text, `${sf}.text`);
      if (o.template !== undefined) {
        spec.template = str(o.template, `${sf}.template`);
        if (templateFields(spec.template).length === 0) fail(`${sf}.template`, 'names no {field}');
      }
      if (spec.format === 'text' && (spec.text || spec.template)) fail(sf, 'format "text" takes each file as one document: no text field or template');
      if (spec.format !== 'text' && !!spec.text === !!spec.template) fail(sf, 'needs exactly one of "text" (a field name) or "template"');
      return spec;
    });
    const spec: RoleSpec = { sources, valShare: share(r.valShare, `${f}.valShare`, 0.5) };
    if (r.filters !== undefined) {
      const fl = obj(r.filters, `${f}.filters`);
      known(fl, `${f}.filters`, ['minChars', 'maxChars', 'dedup']);
      const filters: RoleFilters = {};
      if (fl.minChars !== undefined) filters.minChars = posInt(fl.minChars, `${f}.filters.minChars`);
      if (fl.maxChars !== undefined) filters.maxChars = posInt(fl.maxChars, `${f}.filters.maxChars`);
      if (fl.dedup !== undefined) filters.dedup = fl.dedup === 'exact' || fl.dedup === 'off' ? fl.dedup : fail(`${f}.filters.dedup`, `must be "exact" or "off", got ${JSON.stringify(fl.dedup)}`);
      if (filters.minChars && filters.maxChars && filters.minChars > filters.maxChars) fail(`${f}.filters`, `minChars ${filters.minChars} > maxChars ${filters.maxChars}`);
      spec.filters = filters;
    }
    out.roles[role] = spec;
  }

  const sft = obj(c.sft, 'sft');
  known(sft, 'sft', [...SFT_TASKS]);
  const kindOf: Record<SftTaskName, SftKind> = { gsm: 'gsm8k', sciq: 'sciq', pycode: 'codesearchnet-python', lima: 'lima' };
  for (const task of SFT_TASKS) {
    const f = `sft.${task}`;
    if (sft[task] === undefined) fail(f, `is missing (every task needs files: ${SFT_TASKS.join(', ')})`);
    const s = obj(sft[task], f);
    known(s, f, ['kind', 'format', 'train', 'val', 'test', 'cap', 'carveShare', 'maxChars']);
    if (s.kind !== kindOf[task]) fail(`${f}.kind`, `must be "${kindOf[task]}" for task ${task}, got ${JSON.stringify(s.kind)}`);
    const spec: SftSpec = { kind: kindOf[task], format: format(s.format, `${f}.format`), train: str(s.train, `${f}.train`) };
    if (spec.format === 'text') fail(`${f}.format`, 'must be a record format (jsonl, jsonl.gz, jsonl.zst, parquet)');
    if (s.val !== undefined) spec.val = str(s.val, `${f}.val`);
    if (s.test !== undefined) spec.test = str(s.test, `${f}.test`);
    if (s.carveShare !== undefined) spec.carveShare = share(s.carveShare, `${f}.carveShare`, 0.5);
    if (s.maxChars !== undefined) spec.maxChars = posInt(s.maxChars, `${f}.maxChars`);
    if (s.cap !== undefined) {
      const cap = obj(s.cap, `${f}.cap`);
      known(cap, `${f}.cap`, ['train', 'val', 'test']);
      spec.cap = {};
      for (const k of ['train', 'val', 'test'] as const) if (cap[k] !== undefined) spec.cap[k] = posInt(cap[k], `${f}.cap.${k}`);
    }
    out.sft[task] = spec;
  }
  return out;
}

/** A path from the config, resolved against the config file's folder. */
export function resolvePath(cfg: LoadedDataConfig, p: string): string {
  return path.isAbsolute(p) ? p : path.join(cfg.dir, p);
}
