// The shape of a preset's built data, without its content: vocabulary, every shard's token and document
// counts (roles and parts, train and val), and per SFT task the split sizes and the token lengths of prompts
// and responses (quantiles). It is what the synthetic generator (./build.ts) reproduces where the real data
// cannot be built (a GPU machine without network), and what a test compares a generated bundle with.
// Measured from a built data folder (read only) by `npm run data`, committed as data/shapes/<data set>.json.
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot, ROLE_PARTS, ROLES, SFT_TASKS, type PresetName, type Role, type RolePart, type SftTaskName } from '../../config';
import { dataPreset } from '../presets';
import { BpeTokenizer } from '../../tokenizer/bpe';
import type { SftExample } from '../types';

/** Quantiles of a length distribution at 0%, 5%, …, 100% (21 values, tokens). */
export type LengthQuantiles = number[];
export const QUANTILE_STEPS = 20;

export interface ShardShape { tokens: number; docs: number }
export interface SplitShape { train: ShardShape; val: ShardShape }

export interface SftShape {
  sizes: { train: number; val: number; test: number };
  /** Prompt and response token lengths over all splits (the response without its EOS). */
  promptTokens: LengthQuantiles;
  responseTokens: LengthQuantiles;
}

export interface DataShape {
  /** The data set measured (data/manifests/<name>.json is its manifest). */
  dataName: string;
  /** The measured build's manifest hash: which real data this shape describes. */
  measuredFrom: string;
  vocabSize: number;
  eosId: number;
  /** The SFT context examples were fitted to (prompt + response + EOS ≤ sftContext + 1). */
  sftContext: number;
  roles: Record<Role, SplitShape>;
  parts: Partial<Record<RolePart, SplitShape>>;
  sft: Record<SftTaskName, SftShape>;
}

/** Quantiles 0, 5, …, 100% of some lengths (nearest rank: every value is one that occurred). */
export function lengthQuantiles(lengths: number[]): LengthQuantiles {
  if (lengths.length === 0) throw new Error('data shape: no lengths to summarise');
  const s = [...lengths].sort((a, b) => a - b);
  return Array.from({ length: QUANTILE_STEPS + 1 }, (_, i) => s[Math.min(s.length - 1, Math.round((i / QUANTILE_STEPS) * (s.length - 1)))]);
}

/** A length drawn by the inverse of the quantiles' piecewise-linear distribution function, u in [0, 1). */
export function lengthAt(q: LengthQuantiles, u: number): number {
  const x = u * QUANTILE_STEPS;
  const i = Math.min(QUANTILE_STEPS - 1, Math.floor(x));
  return Math.max(1, Math.round(q[i] + (x - i) * (q[i + 1] - q[i])));
}

interface ManifestLike {
  manifestHash: string;
  tokenizer: { file: string; vocabSize: number; eosId: number };
  roles: Record<Role, { train: { numTokens: number; numDocs: number }; val: { numTokens: number; numDocs: number } }>;
  parts?: Partial<Record<RolePart, { train: { numTokens: number; numDocs: number }; val: { numTokens: number; numDocs: number } }>>;
  sft: Record<SftTaskName, { file: string }>;
}

const split = (s: { train: { numTokens: number; numDocs: number }; val: { numTokens: number; numDocs: number } }): SplitShape => ({
  train: { tokens: s.train.numTokens, docs: s.train.numDocs }, val: { tokens: s.val.numTokens, docs: s.val.numDocs },
});

/** The shape of the built-in data folder `dir` (its manifest.json, tokenizer and SFT files; nothing is written). */
export function measureDataShape(dir: string, preset: PresetName): DataShape {
  const file = path.join(dir, 'manifest.json');
  let m: ManifestLike;
  try { m = JSON.parse(fs.readFileSync(file, 'utf8')) as ManifestLike; } catch (e) { throw new Error(`data shape: cannot read ${file} (${(e as Error).message})`); }
  const tok = BpeTokenizer.load(path.join(dir, m.tokenizer.file), m.tokenizer.vocabSize);
  const sft = {} as Record<SftTaskName, SftShape>;
  for (const task of SFT_TASKS) {
    const body = JSON.parse(fs.readFileSync(path.join(dir, m.sft[task].file), 'utf8')) as Record<'train' | 'val' | 'test', SftExample[]>;
    const all = [...body.train, ...body.val, ...body.test];
    sft[task] = {
      sizes: { train: body.train.length, val: body.val.length, test: body.test.length },
      promptTokens: lengthQuantiles(all.map((e) => tok.encode(e.prompt).length)),
      responseTokens: lengthQuantiles(all.map((e) => tok.encode(e.response).length)),
    };
  }
  const parts: DataShape['parts'] = {};
  for (const p of ROLE_PARTS) if (m.parts?.[p]) parts[p] = split(m.parts[p]!);
  return {
    dataName: dataPreset(preset).dataName, measuredFrom: m.manifestHash, vocabSize: m.tokenizer.vocabSize, eosId: m.tokenizer.eosId,
    sftContext: dataPreset(preset).sftContext,
    roles: Object.fromEntries(ROLES.map((r) => [r, split(m.roles[r])])) as Record<Role, SplitShape>, parts, sft,
  };
}

/** Where a preset's committed shape lives: data/shapes/<data set>.json. */
export function dataShapeFile(preset: PresetName): string {
  return path.join(projectRoot(), 'data', 'shapes', `${dataPreset(preset).dataName}.json`);
}

/** The committed shape of a preset's data; one line naming the file when it is missing. */
export function readDataShape(preset: PresetName): DataShape {
  const file = dataShapeFile(preset);
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { throw new Error(`data shape: no shape for preset ${preset} (${file} missing): build its real data once with npm run data -- --preset ${preset}, which writes it`); }
  const s = JSON.parse(text) as DataShape;
  if (s.vocabSize !== dataPreset(preset).vocabSize) throw new Error(`data shape: ${file} has vocabulary ${s.vocabSize}, preset ${preset} has ${dataPreset(preset).vocabSize}: re-measure it with npm run data -- --preset ${preset}`);
  return s;
}
