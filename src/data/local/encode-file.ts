// Tokenise one source file into "parts": per split, a flat token file (each document followed by EOS) and a
// metadata file (per document: 8-byte text hash for de-duplication, record index, token count). Written to
// temp names and renamed, then a done marker last, so a killed build resumes at the first unfinished file.
// Runs inside a worker thread (worker.ts) or inline; memory is one flush buffer, whatever the file size.
import * as fs from 'fs';
import * as crypto from 'crypto';
import { hashUnit } from '../prng';
import { sha256OfFile } from '../shards';
import { loadPretrainedTokenizer } from '../../tokenizer/pretrained';
import type { BpeTokenizer } from '../../tokenizer/bpe';
import { readRecords, recordText } from './readers';
import type { SourceFormat } from './config';

export interface EncodeJob {
  /** Path of the source file. */
  file: string;
  /** Stable name of the file within its role (config-relative path): the split hash uses it. */
  name: string;
  format: SourceFormat;
  text?: string;
  template?: string;
  columns: string[];
  minChars?: number;
  maxChars?: number;
  valShare: number;
  seed: number;
  tokenizer: { file: string; eosToken?: string; padTo?: number };
  /** Parts are written as `${outPrefix}.{train,val}.{bin,meta}` and `${outPrefix}.done.json`. */
  outPrefix: string;
}

export interface PartSummary {
  name: string;
  file: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  records: number;
  tooShort: number;
  tooLong: number;
  docs: { train: number; val: number };
  tokens: { train: number; val: number };
}

/** Bytes per metadata row: hash (8), record index (4), tokens including EOS (4). */
export const META_ROW = 16;

const tokenizers = new Map<string, BpeTokenizer>();
function tokenizerFor(t: EncodeJob['tokenizer']): BpeTokenizer {
  const key = `${t.file}|${t.eosToken ?? ''}|${t.padTo ?? 0}`;
  let tok = tokenizers.get(key);
  if (!tok) { tok = loadPretrainedTokenizer(t.file, t); tokenizers.set(key, tok); }
  return tok;
}

/** Append-only writer with a bounded buffer. */
class SplitWriter {
  private ids: Uint16Array | Uint32Array;
  private n = 0;
  private meta = Buffer.alloc(META_ROW * 4096);
  private m = 0;
  private readonly fdBin: number;
  private readonly fdMeta: number;
  docs = 0;
  tokens = 0;
  constructor(readonly bin: string, readonly metaFile: string, private width: 2 | 4, private eosId: number) {
    this.ids = width === 2 ? new Uint16Array(1 << 20) : new Uint32Array(1 << 20);
    this.fdBin = fs.openSync(bin, 'w');
    this.fdMeta = fs.openSync(metaFile, 'w');
  }
  add(ids: number[], hash: Buffer, index: number): void {
    if (this.n + ids.length + 1 > this.ids.length) this.flushIds();
    if (ids.length + 1 > this.ids.length) { // a document longer than the buffer: grow for it
      this.ids = this.width === 2 ? new Uint16Array(ids.length + 1) : new Uint32Array(ids.length + 1);
    }
    this.ids.set(ids, this.n);
    this.n += ids.length;
    this.ids[this.n++] = this.eosId;
    if (this.m + META_ROW > this.meta.length) this.flushMeta();
    hash.copy(this.meta, this.m, 0, 8);
    this.meta.writeUInt32LE(index, this.m + 8);
    this.meta.writeUInt32LE(ids.length + 1, this.m + 12);
    this.m += META_ROW;
    this.docs++;
    this.tokens += ids.length + 1;
  }
  private flushIds(): void {
    if (this.n) fs.writeSync(this.fdBin, Buffer.from(this.ids.buffer, this.ids.byteOffset, this.n * this.width));
    this.n = 0;
  }
  private flushMeta(): void {
    if (this.m) fs.writeSync(this.fdMeta, this.meta, 0, this.m);
    this.m = 0;
  }
  close(): void {
    this.flushIds(); this.flushMeta();
    fs.fsyncSync(this.fdBin); fs.fsyncSync(this.fdMeta);
    fs.closeSync(this.fdBin); fs.closeSync(this.fdMeta);
  }
  discard(): void {
    try { fs.closeSync(this.fdBin); } catch { /* already closed */ }
    try { fs.closeSync(this.fdMeta); } catch { /* already closed */ }
    fs.rmSync(this.bin, { force: true }); fs.rmSync(this.metaFile, { force: true });
  }
}

/** Encode one file into its parts; `progress(bytesRead, tokensWritten)` is called with increments. */
export async function encodeFile(job: EncodeJob, progress: (bytes: number, tokens: number) => void = () => {}): Promise<PartSummary> {
  const tok = tokenizerFor(job.tokenizer);
  const width: 2 | 4 = tok.vocabSize <= 65536 ? 2 : 4;
  const st = fs.statSync(job.file);
  const tmp = `.tmp-${process.pid}`;
  const writers = {
    train: new SplitWriter(`${job.outPrefix}.train.bin${tmp}`, `${job.outPrefix}.train.meta${tmp}`, width, tok.eosId),
    val: new SplitWriter(`${job.outPrefix}.val.bin${tmp}`, `${job.outPrefix}.val.meta${tmp}`, width, tok.eosId),
  };
  const summary: PartSummary = { name: job.name, file: job.file, size: st.size, mtimeMs: st.mtimeMs, sha256: '', records: 0, tooShort: 0, tooLong: 0, docs: { train: 0, val: 0 }, tokens: { train: 0, val: 0 } };
  try {
    let pendingBytes = 0;
    for await (const rec of readRecords(job.file, job.format, job.columns, (n) => { pendingBytes += n; })) {
      summary.records++;
      const text = recordText(rec, job.file, job);
      if (job.minChars && text.length < job.minChars) { summary.tooShort++; continue; }
      if (job.maxChars && text.length > job.maxChars) { summary.tooLong++; continue; }
      if (rec.index > 0xffffffff) throw new Error(`data: ${job.file}: more than 2^32 records in one file`);
      const split = hashUnit(`${job.name}#${rec.index}`, job.seed) < job.valShare ? 'val' : 'train';
      const ids = tok.encode(text);
      writers[split].add(ids, crypto.createHash('md5').update(text).digest(), rec.index);
      if (summary.records % 256 === 0) { progress(pendingBytes, 0); pendingBytes = 0; }
      progress(0, ids.length + 1);
    }
    progress(pendingBytes, 0);
    for (const s of ['train', 'val'] as const) {
      writers[s].close();
      summary.docs[s] = writers[s].docs;
      summary.tokens[s] = writers[s].tokens;
    }
    summary.sha256 = sha256OfFile(job.file);
    for (const s of ['train', 'val'] as const) {
      fs.renameSync(writers[s].bin, `${job.outPrefix}.${s}.bin`);
      fs.renameSync(writers[s].metaFile, `${job.outPrefix}.${s}.meta`);
    }
    const done = `${job.outPrefix}.done.json`;
    fs.writeFileSync(done + tmp, JSON.stringify(summary) + '\n');
    fs.renameSync(done + tmp, done);
    return summary;
  } catch (e) {
    writers.train.discard(); writers.val.discard();
    throw e;
  }
}
