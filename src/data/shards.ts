// Token shards: flat little-endian uint16 files (nanoGPT's train.bin layout) plus a JSON index with the
// token count, document count, vocabulary size and sha256. Reads go through a file descriptor at an
// offset, so the trainer samples random windows without loading a shard into memory.
import * as fs from 'fs';
import * as crypto from 'crypto';
import type { TokenShard } from './types';
import { writeFileDurable } from '../durable';

export interface ShardIndex {
  file: string;
  numTokens: number;
  numDocs: number;
  vocabSize: number;
  sha256: string;
}

/** Write documents' token ids, each followed by EOS, atomically and durably (temp, fsync, rename). Returns the index entry. */
export function writeShard(file: string, docs: number[][], eosId: number, vocabSize: number): ShardIndex {
  if (vocabSize > 65536) throw new Error(`data: vocabulary ${vocabSize} does not fit uint16 shards (${file})`);
  let n = 0;
  for (const d of docs) n += d.length + 1;
  const buf = new Uint16Array(n);
  let o = 0;
  for (const d of docs) {
    for (let i = 0; i < d.length; i++) buf[o++] = d[i];
    buf[o++] = eosId;
  }
  // Uint16Array is little-endian on every platform Node runs on; assert it rather than assume.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('data: big-endian hosts are not supported for shards');
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const sha256 = writeFileDurable(file, bytes);
  return { file, numTokens: n, numDocs: docs.length, vocabSize, sha256 };
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
  constructor(readonly index: ShardIndex, file = index.file) {
    this.path = file;
    this.numTokens = index.numTokens;
    let size: number;
    try { size = fs.statSync(file).size; } catch { throw new Error(`data: shard ${file} is missing (rebuild with ensureData / npm run data)`); }
    if (size !== index.numTokens * 2) {
      throw new Error(`data: shard ${file} is truncated or corrupt: ${size} bytes, index says ${index.numTokens} tokens (${index.numTokens * 2} bytes)`);
    }
  }

  verify(): void {
    const sha = sha256OfFile(this.path);
    if (sha !== this.index.sha256) throw new Error(`data: shard ${this.path} is corrupt: sha256 ${sha.slice(0, 12)}… differs from its index (${this.index.sha256.slice(0, 12)}…)`);
  }

  read(start: number, length: number): Uint16Array {
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > this.numTokens) {
      throw new Error(`data: read [${start}, ${start + length}) is outside shard ${this.path} (${this.numTokens} tokens)`);
    }
    const out = new Uint16Array(length);
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    const fd = fs.openSync(this.path, 'r');
    let got = 0;
    try {
      while (got < bytes.length) {
        const n = fs.readSync(fd, bytes, got, bytes.length - got, start * 2 + got);
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
