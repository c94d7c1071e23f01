// Parts of a role as separately addressable shards, for ablations such as "the math mixture with and
// without its synthetic word problems". A part holds the role's own train/val documents from some of its
// sources, encoded with the same tokenizer, so adding parts leaves the tokenizer, every role's shards
// and the manifest hash unchanged: runs that never sample a part keep their ids. A part's content is a
// pure function of its role's documents, the tokenizer and DATA_FORMAT_VERSION (all in the manifest
// hash), and a run that samples it names it in its mixture, so that run's id differs by its config.
import * as path from 'path';
import { ROLE_PARTS, type Mixture, type Role, type RolePart } from '../config';
import type { TokenShard } from './types';
import type { ShardIndex } from './shards';
import type { Doc } from './text';

export interface PartSpec {
  role: Role;
  /** Keeps the role's documents whose source passes. */
  keep: (source: string) => boolean;
  description: string;
}

export const PART_SPECS: Record<RolePart, PartSpec> = {
  'math-natural': {
    role: 'math', keep: (s) => s !== 'synthetic',
    description: 'The math role without its synthetic GSM-style word problems: computer-algebra manuals and Maxima regression tests only (the "without synthetic" arm of the math ablation).',
  },
  'math-synthetic': {
    role: 'math', keep: (s) => s === 'synthetic',
    description: 'The synthetic GSM-style worked word problems of the math role alone (train templates of the gsm generator).',
  },
};

/** A part's entry in the manifest: like a role's shards, with the documents by source it kept. */
export interface PartManifest {
  role: Role;
  description: string;
  train: ShardIndex & { docOffsets: string };
  val: ShardIndex & { docOffsets: string };
  documents: { train: number; val: number };
  tokens: { train: number; val: number };
  sourcesBySplit: { train: Record<string, number>; val: Record<string, number> };
}

/** A role's split documents, reduced to a part's documents (same order: the part's shard is the role's shard minus the others). */
export function partDocs(part: RolePart, split: { train: Doc[]; val: Doc[] }): { train: Doc[]; val: Doc[] } {
  const keep = PART_SPECS[part].keep;
  return { train: split.train.filter((d) => keep(d.source)), val: split.val.filter((d) => keep(d.source)) };
}

export function partShardBase(part: RolePart, split: 'train' | 'val'): string { return path.join('shards', 'parts', `${part}.${split}`); }

/** The parts a mixture samples, in ROLE_PARTS order. */
export function mixtureParts(mixture: Mixture): RolePart[] {
  return ROLE_PARTS.filter((p) => mixture.some((ph) => (ph.weights[p] ?? 0) > 0));
}

/**
 * The data a pretraining run with this mixture trains on: the bundle's roles plus the parts its mixture
 * samples (only those, so other runs evaluate exactly the roles they always did). Throws one line naming
 * the part when the bundle was built without it.
 */
export function withMixtureParts<D extends { roles: object; parts?: Partial<Record<RolePart, { train: TokenShard; val: TokenShard }>> }>(data: D, mixture: Mixture | undefined): D {
  const needed = mixture ? mixtureParts(mixture) : [];
  if (needed.length === 0) return data;
  const roles: Record<string, unknown> = { ...data.roles };
  for (const p of needed) {
    const shards = data.parts?.[p];
    if (!shards) throw new Error(`data: the mixture samples part "${p}", but this data bundle has none (rebuild the data: npm run data)`);
    roles[p] = shards;
  }
  return { ...data, roles };
}
