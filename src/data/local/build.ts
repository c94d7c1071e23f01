// Build a data bundle from a data config (local files): worker threads tokenise source files into per-file
// parts (resumable: a killed build redoes only unfinished files), exact duplicates are found by hashing
// documents into on-disk buckets (memory: one bucket plus one bit per document), parts are concatenated in
// file order into one shard per role and split (sha256 each), SFT tasks are read from the datasets' files,
// and the manifest records every source file with its size and sha256. The published folder appears
// atomically when everything is done; the same files and config give byte-identical shards.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { Worker } from 'worker_threads';
import { cacheRoot, ROLES, SFT_TASKS, type PresetName, type Role, type SftTaskName } from '../../config';
import type { DataBundle, RoleCard, RoleData, SftTask, SourceRecord } from '../types';
import { FileTokenShard, sha256OfFile, tokenWidth, type ShardIndex } from '../shards';
import { loadRolesAndTasks, loadTask, maxNewTokens, stableStringify, verifyOnce, withBuildLock, type Log } from '../build';
import { dataPreset } from '../presets';
import { MODEL_PRESETS } from '../../model/presets';
import { loadPretrainedTokenizer } from '../../tokenizer/pretrained';
import { TASK_DESCRIPTIONS } from '../sft/build-tasks';
import { isBuiltinSource, loadDataConfig, resolvePath, templateFields, type FileSourceSpec, type LoadedDataConfig } from './config';
import { builtinCorpusFile, ROLE_DESCRIPTIONS } from '../build';
import { builtinSizes, dataConfigDir, readBuiltinConfig } from '../presets';
import { expandGlob } from './readers';
import { encodeFile, META_ROW, type EncodeJob, type PartSummary } from './encode-file';
import { buildSftTask } from './sft';
import { sftExampleFits } from '../sft/fit';
import { publishDir, sha256, writeFileDurable } from '../../durable';

/** Bump when parts, shards or SFT formats of local builds change: part of every local build key. */
export const LOCAL_FORMAT_VERSION = 1;

export interface LocalBuildOptions {
  quiet?: boolean;
  /** Worker threads tokenising files (default: CPU count, at most 8). 0 = in this thread. */
  workers?: number;
  /** Called about once a second while files are tokenised. */
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildProgress { bytes: number; totalBytes: number; tokens: number; files: number; totalFiles: number; seconds: number }

/** A file to encode, with how its records become text (a built-in source reads its corpus file as JSON Lines). */
interface RoleFile { name: string; file: string; spec: FileSourceSpec; size: number; mtimeMs: number }

interface LocalRoleManifest {
  card: RoleCard;
  cleaning: Record<string, number>;
  train: ShardIndex & { docOffsets: string };
  val: ShardIndex & { docOffsets: string };
  /** Every source file: config-relative name, size, sha256, records read, documents and tokens per split. */
  files: Array<Omit<PartSummary, 'file' | 'mtimeMs'>>;
}
interface LocalSftEntry { file: string; sha256: string; sizes: { train: number; val: number; test: number }; sources: SourceRecord[]; skipped: Record<string, number>; tooLong: { train: number; val: number; test: number } }

export interface LocalDataManifest {
  formatVersion: number;
  kind: 'local';
  name: string;
  preset: PresetName;
  buildKey: string;
  configHash: string;
  config: LoadedDataConfig['config'];
  tokenizer: { file: string; hash: string; vocabSize: number; eosId: number; eosToken: string; sha256: string };
  roles: Record<Role, LocalRoleManifest>;
  sft: Record<SftTaskName, LocalSftEntry>;
  manifestHash: string;
}


/**
 * Every role's source files, in a fixed order (source spec, then path); a glob that matches nothing is an error.
 * A built-in source is its role's cleaned corpus file (extracted first when missing), named `builtin:<role>@<from>`.
 */
export function planFiles(cfg: LoadedDataConfig, log: Log = () => {}): Record<Role, RoleFile[]> {
  const out = {} as Record<Role, RoleFile[]>;
  for (const role of ROLES) {
    out[role] = [];
    cfg.config.roles[role].sources.forEach((spec, i) => {
      if (isBuiltinSource(spec)) {
        const from = path.join(dataConfigDir(), `${spec.from}.json`);
        let builtin;
        try { builtin = readBuiltinConfig(from); } catch (e) { throw new Error(`data config ${cfg.file}: roles.${role}.sources[${i}].from: ${(e as Error).message}`); }
        const file = builtinCorpusFile(spec.builtin, builtinSizes(builtin, builtin.presets[0], from), log);
        const st = fs.statSync(file);
        out[role].push({ name: `builtin:${spec.builtin}@${spec.from}`, file, spec: { glob: file, format: 'jsonl', text: 'text' }, size: st.size, mtimeMs: st.mtimeMs });
        return;
      }
      const files = expandGlob(spec.glob, cfg.dir);
      if (files.length === 0) throw new Error(`data config ${cfg.file}: roles.${role}.sources[${i}].glob "${spec.glob}" matches no files`);
      for (const file of files) {
        const st = fs.statSync(file);
        out[role].push({ name: path.relative(cfg.dir, file), file, spec, size: st.size, mtimeMs: st.mtimeMs });
      }
    });
  }
  return out;
}

/** The model's embedding rows at the config's preset: the tokenizer is padded to it and must fit in it. */
function modelRows(preset: PresetName): number { return MODEL_PRESETS[preset].vocabSize; }

interface Plan { cfg: LoadedDataConfig; files: Record<Role, RoleFile[]>; tokenizerFile: string; tokenizerSha: string; key: string; dir: string; eosToken: string; padTo: number }

function makePlan(cfg: LoadedDataConfig, log: Log = () => {}): Plan {
  const tokenizerFile = resolvePath(cfg, cfg.config.tokenizer.path);
  const eosToken = cfg.config.tokenizer.eosToken ?? '<|endoftext|>';
  const padTo = cfg.config.tokenizer.padTo ?? modelRows(cfg.config.preset);
  const tok = loadPretrainedTokenizer(tokenizerFile, { eosToken });
  if (tok.vocabSize > modelRows(cfg.config.preset)) {
    throw new Error(`data config ${cfg.file}: tokenizer ${tokenizerFile} uses ${tok.vocabSize} ids but preset ${cfg.config.preset}'s model has ${modelRows(cfg.config.preset)} embedding rows`);
  }
  const files = planFiles(cfg, log);
  const tokenizerSha = sha256OfFile(tokenizerFile);
  const key = sha256(stableStringify({
    v: LOCAL_FORMAT_VERSION, config: cfg.hash, tokenizerSha, padTo,
    files: Object.fromEntries(ROLES.map((r) => [r, files[r].map((f) => [f.name, f.size, f.mtimeMs])])),
  })).slice(0, 16);
  return { cfg, files, tokenizerFile, tokenizerSha, key, dir: path.join(cacheRoot(), 'data', `local-${cfg.config.name}-${key}`), eosToken, padTo };
}

// ---------------------------------------------------------------- parallel encoding

function partPrefix(work: string, role: Role, i: number): string { return path.join(work, role, String(i).padStart(6, '0')); }

function finishedPart(prefix: string, f: RoleFile): PartSummary | null {
  try {
    const s = JSON.parse(fs.readFileSync(`${prefix}.done.json`, 'utf8')) as PartSummary;
    return s.size === f.size && s.mtimeMs === f.mtimeMs && s.name === f.name ? s : null;
  } catch { return null; }
}

function formatEta(s: number): string {
  if (!isFinite(s)) return '?';
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}

/** One progress line: percent, MB/s, tokens/s, ETA. */
export function progressLine(p: BuildProgress): string {
  const mbs = p.bytes / 1e6 / Math.max(p.seconds, 1e-9), tps = p.tokens / Math.max(p.seconds, 1e-9);
  const eta = p.bytes > 0 ? (p.totalBytes - p.bytes) / (p.bytes / p.seconds) : Infinity;
  return `${(100 * p.bytes / Math.max(p.totalBytes, 1)).toFixed(1)}% ${p.files}/${p.totalFiles} files ${mbs.toFixed(1)} MB/s ${(tps / 1e6).toFixed(2)}M tokens/s ETA ${formatEta(eta)}`;
}

async function encodeAll(jobs: EncodeJob[], totalBytes: number, workers: number, log: Log, opts: LocalBuildOptions): Promise<void> {
  if (jobs.length === 0) return;
  const t0 = Date.now();
  const state = { bytes: 0, tokens: 0, files: 0 };
  const snapshot = (): BuildProgress => ({ ...state, totalBytes, totalFiles: jobs.length, seconds: (Date.now() - t0) / 1000 });
  let lastLog = 0;
  const tick = () => {
    const p = snapshot();
    opts.onProgress?.(p);
    if (!opts.quiet) {
      if (process.stderr.isTTY) process.stderr.write(`\r${progressLine(p)}   `);
      else if (Date.now() - lastLog > 10_000) { log(progressLine(p)); lastLog = Date.now(); }
    }
  };
  const timer = setInterval(tick, 1000);
  try {
    if (workers === 0) {
      for (const job of jobs) {
        await encodeFile(job, (b, t) => { state.bytes += b; state.tokens += t; });
        state.files++;
      }
      return;
    }
    const script = path.join(__dirname, 'worker.js');
    const pool: Worker[] = [];
    await new Promise<void>((resolve, reject) => {
      let next = 0, running = 0, failed = false;
      const fail = (e: Error) => { if (!failed) { failed = true; reject(e); } };
      const feed = (w: Worker) => {
        if (failed) return;
        if (next >= jobs.length) { if (running === 0) resolve(); return; }
        running++;
        w.postMessage({ job: jobs[next], id: next });
        next++;
      };
      for (let i = 0; i < Math.min(workers, jobs.length); i++) {
        const w = new Worker(script);
        pool.push(w);
        w.on('message', (m: { type: string; bytes?: number; tokens?: number; message?: string }) => {
          if (m.type === 'progress') { state.bytes += m.bytes!; state.tokens += m.tokens!; }
          else if (m.type === 'done') { running--; state.files++; feed(w); }
          else if (m.type === 'error') fail(new Error(m.message));
        });
        w.on('error', (e) => fail(new Error(`data: a tokenising worker crashed: ${e.message}`)));
        feed(w);
      }
    }).finally(() => Promise.all(pool.map((w) => w.terminate())));
  } finally {
    clearInterval(timer);
    tick();
    if (!opts.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
}

// ---------------------------------------------------------------- exact de-duplication in on-disk buckets

const BUCKETS = 256;
const BUCKET_ROW = 24; // hash (8), file index (4), record index (4), document number in the role (8, as float64)

/** Bitmap over a role's documents (parts in file order, train then val): set = a later exact copy, dropped. */
function duplicateBitmap(work: string, role: Role, parts: PartSummary[]): { dropped: Uint8Array; removed: number } {
  const total = parts.reduce((n, p) => n + p.docs.train + p.docs.val, 0);
  const dropped = new Uint8Array(Math.ceil(total / 8));
  const dir = path.join(work, `${role}.buckets`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const bufs = Array.from({ length: BUCKETS }, (_, i) => ({ buf: Buffer.alloc(BUCKET_ROW * 2048), n: 0, fd: fs.openSync(path.join(dir, `b${i}`), 'w') }));
  let g = 0;
  parts.forEach((p, fi) => {
    for (const split of ['train', 'val'] as const) {
      const meta = fs.readFileSync(`${partPrefix(work, role, fi)}.${split}.meta`);
      for (let o = 0; o < meta.length; o += META_ROW, g++) {
        const b = bufs[meta[o]];
        meta.copy(b.buf, b.n, o, o + 8);
        b.buf.writeUInt32LE(fi, b.n + 8);
        meta.copy(b.buf, b.n + 12, o + 8, o + 12);
        b.buf.writeDoubleLE(g, b.n + 16);
        b.n += BUCKET_ROW;
        if (b.n === b.buf.length) { fs.writeSync(b.fd, b.buf, 0, b.n); b.n = 0; }
      }
    }
  });
  for (const b of bufs) { if (b.n) fs.writeSync(b.fd, b.buf, 0, b.n); fs.closeSync(b.fd); }
  let removed = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const file = path.join(dir, `b${i}`);
    const buf = fs.readFileSync(file);
    const n = buf.length / BUCKET_ROW;
    const order = new Uint32Array(n).map((_, k) => k);
    // Sort by (hash, file, record): within equal hashes the first occurrence in file order comes first.
    const key = (k: number, off: number) => buf.readUInt32LE(k * BUCKET_ROW + off);
    order.sort((a, b) => key(a, 4) - key(b, 4) || key(a, 0) - key(b, 0) || key(a, 8) - key(b, 8) || key(a, 12) - key(b, 12));
    for (let j = 1; j < n; j++) {
      const a = order[j - 1] * BUCKET_ROW, b = order[j] * BUCKET_ROW;
      if (buf.compare(buf, a, a + 8, b, b + 8) === 0) {
        const doc = buf.readDoubleLE(b + 16);
        dropped[doc >>> 3] |= 1 << (doc & 7);
        removed++;
      }
    }
    fs.rmSync(file);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { dropped, removed };
}

// ---------------------------------------------------------------- shards from parts

/** Concatenate a role's parts of one split (file order), skipping dropped documents; returns the index. */
function concatParts(work: string, role: Role, parts: PartSummary[], split: 'train' | 'val', dropped: Uint8Array | null, firstDoc: number[],
  outBin: string, outDocs: string, vocabSize: number): ShardIndex {
  const width = tokenWidth(vocabSize);
  const hash = crypto.createHash('sha256');
  const fdOut = fs.openSync(outBin, 'w');
  const offsets: Buffer[] = [];
  let offBuf = Buffer.alloc(4 * 65536), offN = 0;
  let numTokens = 0, numDocs = 0;
  const chunk = Buffer.alloc(1 << 22);
  const copy = (fdIn: number, from: number, bytes: number) => {
    while (bytes > 0) {
      const n = fs.readSync(fdIn, chunk, 0, Math.min(chunk.length, bytes), from);
      if (n <= 0) throw new Error(`data: part of ${role} ended early while building ${outBin}`);
      fs.writeSync(fdOut, chunk, 0, n);
      hash.update(chunk.subarray(0, n));
      from += n; bytes -= n;
    }
  };
  try {
    parts.forEach((p, fi) => {
      const prefix = `${partPrefix(work, role, fi)}.${split}`;
      const meta = fs.readFileSync(`${prefix}.meta`);
      const fdIn = fs.openSync(`${prefix}.bin`, 'r');
      try {
        let pos = 0, runStart = 0, runBytes = 0;
        let g = firstDoc[fi] + (split === 'val' ? p.docs.train : 0);
        for (let o = 0; o < meta.length; o += META_ROW, g++) {
          const len = meta.readUInt32LE(o + 12) * width;
          const drop = dropped !== null && (dropped[g >>> 3] & (1 << (g & 7))) !== 0;
          if (drop) { if (runBytes) copy(fdIn, runStart, runBytes); runBytes = 0; runStart = pos + len; }
          else {
            if (numTokens > 0xffffffff) throw new Error(`data: ${role}.${split} exceeds 2^32 tokens, beyond the u32 document index`);
            if (offN === offBuf.length) { offsets.push(offBuf); offBuf = Buffer.alloc(offBuf.length); offN = 0; }
            offBuf.writeUInt32LE(numTokens, offN); offN += 4;
            numTokens += len / width; numDocs++;
            runBytes += len;
          }
          pos += len;
        }
        if (runBytes) copy(fdIn, runStart, runBytes);
      } finally { fs.closeSync(fdIn); }
    });
    fs.fsyncSync(fdOut);
  } finally { fs.closeSync(fdOut); }
  offsets.push(offBuf.subarray(0, offN));
  writeFileDurable(outDocs, Buffer.concat(offsets));
  const index: ShardIndex = { file: outBin, numTokens, numDocs, vocabSize, sha256: hash.digest('hex') };
  return width === 2 ? index : { ...index, bytesPerToken: 4 };
}

// ---------------------------------------------------------------- build and load

async function build(plan: Plan, log: Log, opts: LocalBuildOptions): Promise<void> {
  const { cfg, dir } = plan;
  const seed = cfg.config.seed ?? 1234;
  const work = `${dir}.work`;
  const tokOpts = { file: plan.tokenizerFile, eosToken: plan.eosToken, padTo: plan.padTo };
  const tok = loadPretrainedTokenizer(plan.tokenizerFile, tokOpts);

  // 1. Tokenise every file not already done (a killed build resumes here).
  const jobs: EncodeJob[] = [];
  let totalBytes = 0;
  for (const role of ROLES) {
    fs.mkdirSync(path.join(work, role), { recursive: true });
    const r = cfg.config.roles[role];
    plan.files[role].forEach((f, i) => {
      const prefix = partPrefix(work, role, i);
      if (finishedPart(prefix, f)) return;
      jobs.push({
        file: f.file, name: f.name, format: f.spec.format, text: f.spec.text, template: f.spec.template,
        columns: f.spec.text ? [f.spec.text.split('.')[0]] : f.spec.template ? [...new Set(templateFields(f.spec.template).map((x) => x.split('.')[0]))] : [],
        minChars: r.filters?.minChars, maxChars: r.filters?.maxChars, valShare: r.valShare, seed, tokenizer: tokOpts, outPrefix: prefix,
      });
      totalBytes += f.size;
    });
  }
  const done = ROLES.reduce((n, r) => n + plan.files[r].length, 0) - jobs.length;
  log(`tokenising ${jobs.length} files (${(totalBytes / 1e6).toFixed(1)} MB)${done ? `, ${done} already done` : ''}`);
  const workers = opts.workers ?? Math.min(8, os.cpus().length);
  await encodeAll(jobs, totalBytes, workers, log, opts);

  // 2. De-duplicate and concatenate into shards, in a temp folder published at the end.
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'shards'), { recursive: true });
  const roles = {} as Record<Role, LocalRoleManifest>;
  for (const role of ROLES) {
    const parts = plan.files[role].map((f, i) => {
      const s = finishedPart(partPrefix(work, role, i), f);
      if (!s) throw new Error(`data: ${f.file} was not tokenised (part missing in ${work})`);
      return s;
    });
    const firstDoc: number[] = [];
    parts.reduce((n, p) => { firstDoc.push(n); return n + p.docs.train + p.docs.val; }, 0);
    const dedup = (cfg.config.roles[role].filters?.dedup ?? 'exact') === 'exact';
    const { dropped, removed } = dedup ? duplicateBitmap(work, role, parts) : { dropped: null, removed: 0 };
    const rm: Partial<LocalRoleManifest> = {};
    for (const split of ['train', 'val'] as const) {
      const base = `${role}.${split}`;
      const idx = concatParts(work, role, parts, split, dropped, firstDoc, path.join(tmp, 'shards', `${base}.bin`), path.join(tmp, 'shards', `${base}.docs.u32`), tok.vocabSize);
      if (idx.numTokens === 0) throw new Error(`data config ${cfg.file}: roles.${role} has no ${split} documents after filters (valShare ${cfg.config.roles[role].valShare})`);
      rm[split] = { ...idx, file: `shards/${base}.bin`, docOffsets: `shards/${base}.docs.u32` };
    }
    const sum = (f: (p: PartSummary) => number) => parts.reduce((n, p) => n + f(p), 0);
    rm.cleaning = { records: sum((p) => p.records), tooShort: sum((p) => p.tooShort), tooLong: sum((p) => p.tooLong), exactDuplicatesRemoved: removed, kept: rm.train!.numDocs + rm.val!.numDocs };
    rm.files = parts.map(({ file: _f, mtimeMs: _m, ...rest }) => rest);
    rm.card = {
      role,
      description: `${role} role from local files (data config "${cfg.config.name}"): ${cfg.config.roles[role].sources.map((s) => isBuiltinSource(s) ? `the built-in ${s.builtin} role's cleaned documents (as for data config ${s.from}; ${ROLE_DESCRIPTIONS[s.builtin]})` : `${s.glob} (${s.format}, ${s.text ? `field ${s.text}` : s.template ? `template ${JSON.stringify(s.template)}` : 'whole files'})`).join('; ')}.`,
      sources: parts.map((p) => ({ name: p.name.startsWith('builtin:') ? p.name : `file:${p.name}`, version: `${p.size} bytes`, licence: p.name.startsWith('builtin:') ? 'the built-in sources\' own (data/cards/)' : 'as stated by the dataset (see its card)', sha256: p.sha256 })),
      documents: { train: rm.train!.numDocs, val: rm.val!.numDocs },
      tokens: { train: rm.train!.numTokens, val: rm.val!.numTokens },
    };
    roles[role] = rm as LocalRoleManifest;
  }

  // 3. SFT tasks from the datasets' files.
  fs.mkdirSync(path.join(tmp, 'sft'));
  const sft = {} as Record<SftTaskName, LocalSftEntry>;
  for (const task of SFT_TASKS) {
    log(`building SFT task ${task}`);
    // As for the built-in tasks: only examples whose prompt + response + EOS fit the preset's SFT context.
    const context = dataPreset(cfg.config.preset).sftContext;
    const ex = await buildSftTask(cfg, task, seed, (e) => sftExampleFits(tok.encode(e.prompt).length, tok.encode(e.response).length, context));
    const description = `${TASK_DESCRIPTIONS[task]} Here: the dataset's own files (${cfg.config.sft[task].kind}).`;
    const body = stableStringify({ name: task, description, maxNewTokens: maxNewTokens(task, dataPreset(cfg.config.preset)), train: ex.train, val: ex.val, test: ex.test }, 0);
    const file = `sft/${task}.json`;
    writeFileDurable(path.join(tmp, file), body);
    sft[task] = {
      file, sha256: sha256(body), sizes: { train: ex.train.length, val: ex.val.length, test: ex.test.length }, skipped: ex.skipped, tooLong: ex.tooLong,
      sources: ex.files.map((f) => ({ name: `file:${f.name}`, version: `${fs.statSync(f.file).size} bytes`, licence: 'as stated by the dataset (see its card)', sha256: sha256OfFile(f.file) })),
    };
  }

  // 4. Tokenizer copy and manifest (no timestamps, no absolute paths: same inputs, same hash).
  const tokFile = `tokenizer-${tok.hash}.json`;
  writeFileDurable(path.join(tmp, tokFile), fs.readFileSync(plan.tokenizerFile));
  const m: Omit<LocalDataManifest, 'manifestHash'> = {
    formatVersion: LOCAL_FORMAT_VERSION, kind: 'local', name: cfg.config.name, preset: cfg.config.preset, buildKey: plan.key, configHash: cfg.hash, config: cfg.config,
    tokenizer: { file: tokFile, hash: tok.hash, vocabSize: tok.vocabSize, eosId: tok.eosId, eosToken: plan.eosToken, sha256: plan.tokenizerSha },
    roles, sft,
  };
  // The build key (it includes file times, to notice edits) is left out: the same content hashes the same anywhere.
  const { buildKey: _key, ...content } = m;
  const manifest: LocalDataManifest = { ...m, manifestHash: sha256(stableStringify(content)).slice(0, 16) };
  writeFileDurable(path.join(tmp, 'manifest.json'), stableStringify(manifest));
  fs.rmSync(dir, { recursive: true, force: true });
  publishDir(tmp, dir); // synced folder entries, then the rename
  fs.rmSync(work, { recursive: true, force: true });
}

function loadLocalBundle(dir: string, m: LocalDataManifest): DataBundle {
  const tokenizer = loadPretrainedTokenizer(path.join(dir, m.tokenizer.file), { eosToken: m.tokenizer.eosToken, padTo: m.tokenizer.vocabSize });
  if (tokenizer.hash !== m.tokenizer.hash) throw new Error(`data: tokenizer ${path.join(dir, m.tokenizer.file)} hash ${tokenizer.hash} differs from the manifest (${m.tokenizer.hash}): rebuild`);
  return { preset: m.preset, dir, tokenizer, manifestHash: m.manifestHash, ...loadRolesAndTasks(dir, m) };
}

/** Where a data config's build lives (its name and a key over config, tokenizer and the files' sizes and times). */
export function localDataDir(configFile: string): string { return makePlan(loadDataConfig(configFile)).dir; }

/**
 * Build (when missing) and load the data a config describes. `preset`, when given, must be the config's.
 * Errors are one line naming the file (and line or row group); nothing is published until the build is complete.
 */
export async function ensureLocalData(configFile: string, preset?: PresetName, opts: LocalBuildOptions = {}): Promise<DataBundle> {
  const cfg = loadDataConfig(configFile);
  if (preset && preset !== cfg.config.preset) throw new Error(`data config ${cfg.file} is for preset ${cfg.config.preset}, not ${preset}`);
  const log: Log = opts.quiet ? () => {} : (s) => console.log(`[data ${cfg.config.name}] ${s}`);
  const plan = makePlan(cfg, log);
  const manifestFile = path.join(plan.dir, 'manifest.json');
  const read = () => JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as LocalDataManifest;
  if (!fs.existsSync(manifestFile)) {
    await withBuildLock(plan.dir, log, async () => {
      if (fs.existsSync(manifestFile)) return;
      const t0 = Date.now();
      await build(plan, log, opts);
      log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${plan.dir}`);
    });
  }
  return loadLocalBundle(plan.dir, read());
}
