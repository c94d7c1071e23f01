// The built-in corpus's sizes, read from its data configs (data/configs/<name>.json, "kind": "builtin"):
// the npm/Debian corpus is one data config among others, with the same naming and choosing (configs.ts).
// Sizes scale the data, never the protocol (same roles, tasks, splits, seeds).
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS, projectRoot, type PresetName } from '../config';
import { MODEL_PRESETS } from '../model/presets';

/**
 * Whether `s` can name a data config in data/configs/ (and the cache folder of a built-in one): letters,
 * digits, '-', '_' and '.', starting with a letter or digit, so that no name is '..' or hidden.
 */
export function isDataConfigName(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s);
}

export interface DataPreset {
  /** The model preset this data is loaded for. Not part of the data's identity: presets sharing a data config share its build. */
  preset: PresetName;
  /** The built data set (its folder under <cache>/data): the built-in data config's name. */
  dataName: string;
  /** Whose documents it is described as using (pythia uses the small corpus); a label in the build key. */
  dataFrom: string;
  /** Model vocabulary size (embedding rows). Token ids are < this. */
  vocabSize: number;
  /**
   * Ids the BPE actually uses (byte alphabet + merges + EOS). Equal to vocabSize except for pythia,
   * whose 50304 rows (GPT-NeoX's padded size) exceed what our trainer learns (~30k); the rest is padding, as in Pythia.
   */
  bpeVocabSize: number | 'all';
  /** Per role: characters of documents in the train / val split (whole documents, seeded order). */
  trainChars: number;
  valChars: number;
  /** Per role: characters of train documents the tokenizer is trained on. */
  tokenizerSampleChars: number;
  /** Per SFT task: maximum examples per split. */
  sft: { train: number; val: number; test: number };
  /** SFT examples longer than this (prompt + response characters) are dropped (or, for FAQ answers, cut at a paragraph). */
  sftMaxChars: number;
  /** The model context SFT examples must fit (prompt + response + eos, in tokens): the model preset's contextLength. */
  sftContext: number;
  /** Synthetic worked word problems added to the math role (train templates only). */
  mathSynthetic: number;
  /** Seed for splits, sampling and generation. */
  seed: number;
}

/** A built-in data config as written in data/configs/<name>.json: the sizes, its name and the model presets it can feed (their vocabulary and context must agree with it). */
export type BuiltinDataConfig = Omit<DataPreset, 'preset' | 'dataName' | 'sftContext'> & { kind: 'builtin'; name: string; description: string; presets: PresetName[] };

/** Where data configs are found by name. */
export function dataConfigDir(): string { return path.join(projectRoot(), 'data', 'configs'); }

/** The built-in data config each model preset loads when no other is chosen. */
export const DEFAULT_DATA_CONFIG: Record<PresetName, string> = {
  tiny: 'tiny', small: 'small', 'pythia-70m': 'pythia', 'pythia-160m': 'pythia', 'pythia-410m': 'pythia',
};

/** Check a built-in data config; every error is one line naming the file and the field. */
export function validateBuiltinConfig(raw: Record<string, unknown>, file: string): BuiltinDataConfig {
  const fail = (field: string, why: string): never => { throw new Error(`data config ${file}: ${field} ${why}`); };
  const keys = ['kind', 'name', 'description', 'presets', 'dataFrom', 'vocabSize', 'bpeVocabSize', 'trainChars', 'valChars', 'tokenizerSampleChars', 'sft', 'sftMaxChars', 'mathSynthetic', 'seed'];
  for (const k of Object.keys(raw)) if (!keys.includes(k)) fail(k, `is not a known field of a built-in data config (known: ${keys.join(', ')})`);
  const str = (k: string): string => (typeof raw[k] === 'string' && (raw[k] as string).length > 0 ? raw[k] as string : fail(k, `must be a non-empty string, got ${JSON.stringify(raw[k])}`));
  const posInt = (v: unknown, k: string): number => (Number.isInteger(v) && (v as number) > 0 ? v as number : fail(k, `must be a positive integer, got ${JSON.stringify(v)}`));
  const name = str('name');
  if (!isDataConfigName(name)) fail('name', `must start with a letter or digit and use letters, digits, '-', '_' or '.' (it names a folder), got ${JSON.stringify(name)}`);
  if (!Array.isArray(raw.presets) || raw.presets.length === 0) fail('presets', 'must be a non-empty array of model presets');
  const presets = (raw.presets as unknown[]).map((p, i) => ((PRESETS as readonly unknown[]).includes(p) ? p as PresetName : fail(`presets[${i}]`, `must be one of ${PRESETS.join(', ')}, got ${JSON.stringify(p)}`)));
  const vocabSize = posInt(raw.vocabSize, 'vocabSize');
  const bpeVocabSize = raw.bpeVocabSize === 'all' ? 'all' : posInt(raw.bpeVocabSize, 'bpeVocabSize');
  if (bpeVocabSize !== 'all' && bpeVocabSize > vocabSize) fail('bpeVocabSize', `${bpeVocabSize} exceeds vocabSize ${vocabSize}`);
  for (const p of presets) {
    if (MODEL_PRESETS[p].vocabSize !== vocabSize) fail('vocabSize', `${vocabSize} differs from preset ${p}'s embedding rows (${MODEL_PRESETS[p].vocabSize})`);
    if (MODEL_PRESETS[p].contextLength !== MODEL_PRESETS[presets[0]].contextLength) fail('presets', `${presets[0]} and ${p} have different contexts: SFT examples are filtered to one`);
  }
  const sft = raw.sft && typeof raw.sft === 'object' && !Array.isArray(raw.sft) ? raw.sft as Record<string, unknown> : fail('sft', 'must be an object { train, val, test }');
  for (const k of Object.keys(sft)) if (!['train', 'val', 'test'].includes(k)) fail(`sft.${k}`, 'is not a known field (known: train, val, test)');
  if (raw.description !== undefined) str('description');
  if (!Number.isInteger(raw.seed)) fail('seed', `must be an integer, got ${JSON.stringify(raw.seed)}`);
  if (raw.kind !== 'builtin') fail('kind', `must be "builtin", got ${JSON.stringify(raw.kind)}`);
  return {
    kind: 'builtin', name, description: (raw.description as string | undefined) ?? '', presets, dataFrom: str('dataFrom'), vocabSize, bpeVocabSize,
    trainChars: posInt(raw.trainChars, 'trainChars'), valChars: posInt(raw.valChars, 'valChars'), tokenizerSampleChars: posInt(raw.tokenizerSampleChars, 'tokenizerSampleChars'),
    sft: { train: posInt(sft.train, 'sft.train'), val: posInt(sft.val, 'sft.val'), test: posInt(sft.test, 'sft.test') },
    sftMaxChars: posInt(raw.sftMaxChars, 'sftMaxChars'), mathSynthetic: Number.isInteger(raw.mathSynthetic) && (raw.mathSynthetic as number) >= 0 ? raw.mathSynthetic as number : fail('mathSynthetic', `must be an integer ≥ 0, got ${JSON.stringify(raw.mathSynthetic)}`),
    seed: raw.seed as number,
  };
}

/** Read a built-in data config's file (one-line errors naming the file). */
export function readBuiltinConfig(file: string): BuiltinDataConfig {
  let raw: unknown;
  try { raw = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) {
    throw new Error(`data config ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `not valid JSON (${(e as Error).message})`}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`data config ${file}: must be a JSON object`);
  return validateBuiltinConfig(raw as Record<string, unknown>, file);
}

/** The sizes a built-in data config gives a model preset (which must be one of the config's presets). */
export function builtinSizes(config: BuiltinDataConfig, preset: PresetName, file = `${config.name}.json`): DataPreset {
  if (!config.presets.includes(preset)) throw new Error(`data config ${file} is for presets ${config.presets.join(', ')}, not ${preset}`);
  const { kind: _k, name, description: _d, presets: _p, ...sizes } = config;
  return { preset, dataName: name, ...sizes, sftContext: MODEL_PRESETS[preset].contextLength };
}

/** The built-in data a model preset loads by default (data/configs/<DEFAULT_DATA_CONFIG[preset]>.json). */
export function dataPreset(preset: PresetName): DataPreset {
  if (!(PRESETS as readonly string[]).includes(preset)) throw new Error(`data: unknown preset "${preset}" (expected one of ${PRESETS.join(', ')})`);
  const file = path.join(dataConfigDir(), `${DEFAULT_DATA_CONFIG[preset]}.json`);
  return builtinSizes(readBuiltinConfig(file), preset, file);
}
