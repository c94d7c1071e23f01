// Token shards: flat little-endian uint16 files (nanoGPT's train.bin layout), or uint32 when the vocabulary
// exceeds 65,536 ids, plus a JSON index with the token count, document count, vocabulary size, width and sha256. Reads go through a file descriptor at an
// offset, so the trainer samples random windows without loading a shard into memory.
import * as fs from 'fs';
import * as crypto from 'crypto';
import type { TokenIds, TokenShard } from './types';
import { writeFileDurable } from '../durable';

/** Bytes per token id: 2 while every id fits uint16, else 4. */
export function tokenWidth(vocabSize: number): 2 | 4 { return vocabSize <= 65536 ? 2 : 4; }

export interface ShardIndex {
  file: string;
  numTokens: number;
  numDocs: number;
  vocabSize: number;
  sha256: string;
  /** Bytes per token (absent in indexes written before 32-bit shards existed: 2). */
  bytesPerToken?: 2 | 4;
}

/** Write documents' token ids, each followed by EOS, atomically and durably (temp, fsync, rename). Returns the index entry. */
export function writeShard(file: string, docs: number[][], eosId: number, vocabSize: number): ShardIndex {
  const width = tokenWidth(vocabSize);
  let n = 0;
  for (const d of docs) n += d.length + 1;
  const buf = width === 2 ? new Uint16Array(n) : new Uint32Array(n);
  let o = 0;
  for (const d of docs) {
    for (let i = 0; i < d.length; i++) buf[o++] = d[i];
    buf[o++] = eosId;
  }
  // Uint16Array is little-endian on every platform Node runs on; assert it rather than assume.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('data: big-endian hosts are not supported for shards');
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const sha256 = writeFileDurable(file, bytes);
  const index: ShardIndex = { file, numTokens: n, numDocs: docs.length, vocabSize, sha256 };
  // uint16 indexes keep their old shape (and hash) so built-in data sets do not change identity.
  return width === 2 ? index : { ...index, bytesPerToken: 4 };
}

export function sha256OfFile(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 22);
    let n: number;
    while ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0) h.update(chunk.subarray(0, n));
  } finally { fs.closeSync(fd); }
  return h.digest('hex');
}

/** A shard on disk. Construction checks the file's size against the index; `verify()` checks its hash. */
export class FileTokenShard implements TokenShard {
  readonly path: string;
  readonly numTokens: number;
  readonly bytesPerToken: 2 | 4;
  constructor(readonly index: ShardIndex, file = index.file) {
    this.path = file;
    this.numTokens = index.numTokens;
    this.bytesPerToken = index.bytesPerToken ?? 2;
    if (this.bytesPerToken !== 2 && this.bytesPerToken !== 4) throw new Error(`data: shard index for ${file} has bytesPerToken ${index.bytesPerToken} (expected 2 or 4)`);
    if (this.bytesPerToken === 2 && index.vocabSize > 65536) throw new Error(`data: shard ${file} is uint16 but its vocabulary is ${index.vocabSize}: rebuild`);
    let size: number;
    try { size = fs.statSync(file).size; } catch { throw new Error(`data: shard ${file} is missing (rebuild with ensureData / npm run data)`); }
    if (size !== index.numTokens * this.bytesPerToken) {
      throw new Error(`data: shard ${file} is truncated or corrupt: ${size} bytes, index says ${index.numTokens} tokens (${index.numTokens * this.bytesPerToken} bytes)`);
    }
  }

  verify(): void {
    const sha = sha256OfFile(this.path);
    if (sha !== this.index.sha256) throw new Error(`data: shard ${this.path} is corrupt: sha256 ${sha.slice(0, 12)}… differs from its index (${this.index.sha256.slice(0, 12)}…)`);
  }

  read(start: number, length: number): TokenIds {
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > this.numTokens) {
      throw new Error(`data: read [${start}, ${start + length}) is outside shard ${this.path} (${this.numTokens} tokens)`);
    }
    const w = this.bytesPerToken;
    const out = w === 2 ? new Uint16Array(length) : new Uint32Array(length);
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    const fd = fs.openSync(this.path, 'r');
    let got = 0;
    try {
      while (got < bytes.length) {
        const n = fs.readSync(fd, bytes, got, bytes.length - got, start * w + got);
        if (n === 0) break;
        got += n;
      }
    } finally { fs.closeSync(fd); }
    if (got !== bytes.length) throw new Error(`data: shard ${this.path} is truncated: read ${got} of ${bytes.length} bytes at token ${start}`);
    for (let i = 0; i < length; i++) {
      if (out[i] >= this.index.vocabSize) throw new Error(`data: shard ${this.path} is corrupt: token ${out[i]} at position ${start + i} >= vocabulary ${this.index.vocabSize}`);
    }
    return out;
  }
}
