// Random whole documents of a role, decoded from its shard (so what you see is exactly what is trained on).
import * as fs from 'fs';
import type { PresetName, Role } from '../config';
import type { DataBundle, TokenIds, TokenShard } from './types';
import { ensureData } from './ensure';
import { Rng } from './prng';

/** Start offsets (in tokens) of the documents of a shard, from its `.docs.u32` index. */
export function docOffsets(shard: TokenShard): Uint32Array {
  const file = shard.path.replace(/\.bin$/, '.docs.u32');
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch { throw new Error(`data: document index ${file} is missing: rebuild`); }
  if (buf.length % 4 !== 0) throw new Error(`data: document index ${file} is truncated (${buf.length} bytes)`);
  const out = new Uint32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(i * 4);
  return out;
}

/** Document i of a shard as token ids, without its trailing EOS. */
export function documentTokens(shard: TokenShard, offsets: Uint32Array, i: number): TokenIds {
  const start = offsets[i];
  const end = i + 1 < offsets.length ? offsets[i + 1] : shard.numTokens;
  return shard.read(start, end - start - 1);
}

/** n distinct random documents (seeded) of a role's split, as text. */
export function sampleFromBundle(b: DataBundle, role: Role, n: number, seed: number, split: 'train' | 'val' = 'train'): string[] {
  const shard = b.roles[role][split];
  const off = docOffsets(shard);
  const idx = new Rng(seed).sample(Array.from(off.keys()), Math.min(n, off.length));
  return idx.map((i) => b.tokenizer.decode(documentTokens(shard, off, i)));
}

/** For a notebook cell: `await sampleDocuments('tiny', 'code', 5, 0)` shows five random code documents. */
export async function sampleDocuments(preset: PresetName, role: Role, n: number, seed: number, split: 'train' | 'val' = 'train'): Promise<string[]> {
  return sampleFromBundle(await ensureData(preset, { quiet: true }), role, n, seed, split);
}
