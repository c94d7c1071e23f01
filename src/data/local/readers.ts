// Streaming readers for the formats the public datasets ship: JSON Lines (plain, .gz, .zst), Parquet, and
// folders of text files. Each yields records one at a time with where it came from ("line 12", "row group 3
// row 7"), so memory stays flat whatever the file size, and every error names the file and the place.
// Libraries: gzip is Node's zlib; zstd is fzstd (pure JS, streaming); Parquet is hyparquet with
// hyparquet-compressors (pure JS: snappy, gzip, zstd, brotli, lz4), read one row group at a time.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { StringDecoder } from 'string_decoder';
import type { SourceFormat } from './config';

export interface SourceRecord {
  /** The parsed record (an object), or the whole text of a file for format "text". */
  value: unknown;
  /** 0-based index of the record in its file. */
  index: number;
  /** Human-readable place: "line 12", "row group 3 row 7". */
  where: string;
}

/** Bytes read from disk so far (compressed bytes for .gz/.zst), for progress. */
export type OnBytes = (n: number) => void;

function fileError(file: string, where: string, why: string): Error {
  return new Error(`data: ${file}${where ? ` ${where}` : ''}: ${why}`);
}

// ---------------------------------------------------------------- globs

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '{') {
      const end = seg.indexOf('}', i);
      if (end < 0) throw new Error(`unclosed "{" in glob segment "${seg}"`);
      re += '(?:' + seg.slice(i + 1, end).split(',').map((a) => a.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('|') + ')';
      i = end;
    } else re += ch.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files matching a glob (`*`, `?`, `**`, `{a,b}`) under `base`, sorted; hidden files only when named. */
export function expandGlob(pattern: string, base: string): string[] {
  const abs = path.isAbsolute(pattern) ? pattern : path.join(base, pattern);
  const parts = abs.split('/').filter((p, i) => p.length > 0 || i === 0);
  // The literal prefix of the pattern is where the walk starts.
  let root = '/';
  let i = 0;
  for (; i < parts.length; i++) {
    if (/[*?{]/.test(parts[i])) break;
    root = path.join(root, parts[i]);
  }
  if (i === parts.length) {
    try { return fs.statSync(root).isFile() ? [root] : []; } catch { return []; }
  }
  const segs = parts.slice(i);
  const out: string[] = [];
  const walk = (dir: string, k: number): void => {
    if (k === segs.length) return;
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    if (segs[k] === '**') {
      walk(dir, k + 1); // ** matches zero folders
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(dir, e.name), k);
      return;
    }
    const re = segmentRegex(segs[k]);
    for (const e of entries) {
      if (!re.test(e.name) || (e.name.startsWith('.') && !segs[k].startsWith('.'))) continue;
      const p = path.join(dir, e.name);
      if (k === segs.length - 1) { if (e.isFile()) out.push(p); }
      else if (e.isDirectory()) walk(p, k + 1);
    }
  };
  walk(root, 0);
  return [...new Set(out)].sort();
}

// ---------------------------------------------------------------- byte streams

/** Decompressed chunks of a file (gzip via zlib, zstd via fzstd's streaming decoder). */
async function* byteChunks(file: string, format: SourceFormat, onBytes?: OnBytes): AsyncGenerator<Uint8Array> {
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  if (format === 'jsonl.zst') {
    const { Decompress } = require('fzstd') as typeof import('fzstd');
    const out: Uint8Array[] = [];
    const dec = new Decompress((chunk: Uint8Array) => { out.push(chunk); });
    let ended = false;
    for await (const raw of input) {
      onBytes?.(raw.length);
      try { dec.push(new Uint8Array(raw.buffer, raw.byteOffset, raw.length)); } catch (e) { throw fileError(file, '', `not a valid zstd stream (${(e as Error).message})`); }
      while (out.length) yield out.shift()!;
    }
    try { dec.push(new Uint8Array(0), true); ended = true; } catch (e) { throw fileError(file, '', `zstd stream is truncated (${(e as Error).message})`); }
    while (out.length) yield out.shift()!;
    if (!ended) throw fileError(file, '', 'zstd stream is truncated');
    return;
  }
  if (format === 'jsonl.gz') {
    const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
    input.on('data', (c: Buffer | string) => onBytes?.(c.length));
    input.on('error', (e) => gunzip.destroy(e));
    input.pipe(gunzip);
    try {
      for await (const c of gunzip) yield c as Buffer;
    } catch (e) { throw fileError(file, '', `not a valid gzip stream (${(e as Error).message})`); }
    return;
  }
  for await (const c of input) { onBytes?.((c as Buffer).length); yield c as Buffer; }
}

/** JSON Lines records; blank lines are skipped, a line that does not parse is an error naming it. */
async function* jsonlRecords(file: string, format: SourceFormat, onBytes?: OnBytes): AsyncGenerator<SourceRecord> {
  const dec = new StringDecoder('utf8');
  let rest = '';
  let line = 0, index = 0;
  const parse = (s: string): SourceRecord | null => {
    line++;
    if (s.length === 0 || /^\s*$/.test(s)) return null;
    let value: unknown;
    try { value = JSON.parse(s); } catch (e) { throw fileError(file, `line ${line}`, `not valid JSON (${(e as Error).message})`); }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw fileError(file, `line ${line}`, 'is not a JSON object');
    return { value, index: index++, where: `line ${line}` };
  };
  for await (const chunk of byteChunks(file, format, onBytes)) {
    const text = rest + dec.write(chunk as Buffer);
    let start = 0, nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      const r = parse(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl));
      if (r) yield r;
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += dec.end();
  if (rest.length) { const r = parse(rest); if (r) yield r; }
}

// ---------------------------------------------------------------- parquet

/** Parquet rows, one row group at a time, only the columns asked for (all when `columns` is empty). */
async function* parquetRecords(file: string, columns: string[], onBytes?: OnBytes): AsyncGenerator<SourceRecord> {
  // The package's Node entry adds asyncBufferFromFile; its types resolve to the browser entry under node10 resolution.
  const hp = require('hyparquet') as typeof import('hyparquet') & { asyncBufferFromFile(file: string): Promise<import('hyparquet').AsyncBuffer> };
  const { compressors } = require('hyparquet-compressors') as { compressors: import('hyparquet').Compressors };
  let buffer: import('hyparquet').AsyncBuffer;
  let metadata: import('hyparquet').FileMetaData;
  try {
    buffer = await hp.asyncBufferFromFile(file);
    metadata = await hp.parquetMetadataAsync(buffer);
  } catch (e) { throw fileError(file, '', `not a readable Parquet file (${(e as Error).message})`); }
  const fileSize = fs.statSync(file).size;
  const names = new Set(metadata.schema.slice(1).map((s) => s.name));
  const wanted = columns.filter((c) => c.length > 0);
  for (const c of wanted) if (!names.has(c)) throw fileError(file, '', `has no column "${c}" (columns: ${[...names].join(', ')})`);
  let rowStart = 0, index = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const rg = metadata.row_groups[g];
    const n = Number(rg.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await hp.parquetReadObjects({ file: buffer, metadata, compressors, rowStart, rowEnd: rowStart + n, ...(wanted.length ? { columns: wanted } : {}) });
    } catch (e) { throw fileError(file, `row group ${g}`, `cannot be read (${(e as Error).message})`); }
    onBytes?.(fileSize / metadata.row_groups.length); // progress in bytes on disk, like the other formats
    for (let r = 0; r < rows.length; r++) yield { value: rows[r], index: index++, where: `row group ${g} row ${r}` };
    rowStart += n;
  }
}

/** Records of one file in a record format, or the file's whole text for format "text". */
export async function* readRecords(file: string, format: SourceFormat, columns: string[] = [], onBytes?: OnBytes): AsyncGenerator<SourceRecord> {
  try { fs.accessSync(file, fs.constants.R_OK); } catch (e) { throw fileError(file, '', `cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`); }
  switch (format) {
    case 'jsonl': case 'jsonl.gz': case 'jsonl.zst': yield* jsonlRecords(file, format, onBytes); return;
    case 'parquet': yield* parquetRecords(file, columns, onBytes); return;
    case 'text': {
      const buf = fs.readFileSync(file);
      onBytes?.(buf.length);
      yield { value: buf.toString('utf8'), index: 0, where: '' };
      return;
    }
  }
}

/** A field by dotted path ("a.b", "conversations.0"); undefined when absent. */
export function getField(rec: unknown, field: string): unknown {
  let v: unknown = rec;
  for (const k of field.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** The text of a record: a field, or a template over fields. A missing or non-string field is an error naming it. */
export function recordText(rec: SourceRecord, file: string, spec: { text?: string; template?: string }): string {
  if (typeof rec.value === 'string') return rec.value;
  const need = (field: string): string => {
    const v = getField(rec.value, field);
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    throw fileError(file, rec.where, v === undefined || v === null ? `has no field "${field}"` : `field "${field}" is ${Array.isArray(v) ? 'an array' : typeof v}, not text`);
  };
  if (spec.text) return need(spec.text);
  return spec.template!.replace(/\{([A-Za-z0-9_.]+)\}/g, (_, f: string) => need(f));
}
