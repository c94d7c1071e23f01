// ensureData(preset): fetch sources → extract + clean + dedup each role's corpus (cached, shared by presets)
// → seeded split by document → tokenizer trained on a sample of every role → uint16 shards + index
// → SFT tasks → manifest and role cards. Idempotent: a finished build is loaded, not rebuilt; the same
// sources and code give byte-identical files (no clocks, no unseeded randomness, sorted inputs).
import * as fs from 'fs';
import * as path from 'path';
import { cacheRoot, ROLE_PARTS, ROLES, SFT_TASKS, type PresetName, type Role, type RolePart, type SftTaskName } from '../config';
import type { DataBundle, RoleCard, RoleData, SftExample, SftTask, SourceRecord } from './types';
import { dataPreset, type DataPreset } from './presets';
import { fetchSource, SOURCES, type FetchedSource, type SourceKey } from './sources';
import { hashUnit } from './prng';
import { dedup, nearDedup, type Doc } from './text';
import { generalDocs } from './extract/general';
import { codeDocs } from './extract/code';
import { mathDocs, MATH_SOURCES } from './extract/math';
import { instructionDocs } from './extract/instruction';
import { knowledgeDocs } from './extract/knowledge';
import { webDocs, WEB_SOURCES } from './extract/web';
import { loadWordnet, type Synset } from './extract/wordnet';
import { gsmExamples, limaExamples, pycodeExamples, sciqExamples, TASK_DESCRIPTIONS, type SplitExamples } from './sft/build-tasks';
import { ANSWER_ENDED, CHECKERS } from './sft/checkers';
import { sftExampleFits } from './sft/fit';
import { BpeTokenizer, serializeTokenizer, tokenizerHash, trainBpe } from '../tokenizer/bpe';
import { FileTokenShard, writeShard, type ShardIndex } from './shards';
import { isDiskFull, publishDir, sha256, writeFileDurable, writeSynced } from '../durable';
import { filterLeaks, LeakIndex, leakCleaningStats, sciqHeldOutProbes, SCIQ_LEAK_CHECKED_ROLES } from './leaks';
import { PART_SPECS, partDocs, partShardBase, type PartManifest } from './parts';

/** Bump when extraction, cleaning, splitting or formats change: it is part of every build key. */
export const DATA_FORMAT_VERSION = 11;

export const ROLE_SOURCES: Record<Role, SourceKey[]> = {
  general: ['gutenberg', 'sotu', 'brown', 'spamAssassin'],
  code: ['numpy', 'networkx', 'sklearn', 'django', 'pystdlib'],
  math: [...MATH_SOURCES],
  instruction: ['wordnet', 'bsdgames'],
  knowledge: ['gcide', 'foldoc', 'wordnet'],
  'web-quality': [...WEB_SOURCES],
};

export const TASK_SOURCES: Record<SftTaskName, SourceKey[]> = {
  pycode: ['sympy'], gsm: [], sciq: ['wordnet'], lima: ['pythonDoc', 'perlDoc', 'debianFaq'],
};

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  general: 'C4 role: general English prose only — 18 Project Gutenberg books (cut into ~6k-char sections; split by book, so no book is in both train and val; val stratified by source), US State of the Union addresses, the Brown corpus (POS tags stripped) and SpamAssassin ham e-mail bodies (headers, quotes, signatures and list footers removed). No technical documentation: its val split measures forgetting.',
  code: 'Starcoder role: Python source files from numpy, networkx, scikit-learn, Django and the CPython standard library (Debian packages). SymPy is excluded: it is the pycode SFT task.',
  math: 'Math role: the manuals of Maxima and GAP (HTML → text) and PARI/GP (TeX source), Maxima regression tests (input → expected result) and SYNTHETIC GSM8K-style worked word problems from the generator\'s train templates only (the paper\'s math mix, MAmmoTH/OpenMathInstruct, is worked word problems too). Format overlap with the gsm task, not item leakage; the parts math-natural and math-synthetic hold the two kinds apart for the math-synthetic-ablation experiment.',
  instruction: 'FLAN role: instruction-formatted examples (Instruction/Input/Output) built from WordNet relations (define, name, synonym, antonym, hypernym, use in a sentence; science nouns excluded) and the BSD quiz tables (capitals, elements, Latin/Greek words, ...).',
  knowledge: 'KnowledgeQA role: dictionary and encyclopaedic definitions — GCIDE (Webster 1913 + WordNet), FOLDOC (computing) — and WordNet noun definitions as Q/A (natural-science nouns excluded: they are the sciq task). GCIDE carries WordNet\'s definitions too: documents that state a held-out sciq item\'s definition with its term are removed (leak check below).',
  'web-quality': 'DCLM role (high-quality web), a defensible stand-in: real HTML web pages shipped by Debian (docs.python.org minus its FAQ, the Debian Reference, the Debian Administrator\'s Handbook, the Developer\'s Reference, the New Maintainers\' Guide, Debian Policy, the Securing Debian Manual) converted to text, boilerplate lines removed, kept only if they pass Gopher-style quality rules. More technical than a web crawl.',
};

export type Log = (s: string) => void;

/** Stable JSON (sorted keys) so manifests hash the same whatever the insertion order. */
export function stableStringify(v: unknown, indent = 2): string {
  const sort = (x: unknown): unknown => Array.isArray(x) ? x.map(sort)
    : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x as object).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])])) : x;
  return JSON.stringify(sort(v), null, indent) + '\n';
}

// ---------------------------------------------------------------- sources and corpora

class SourceSet {
  private fetched = new Map<SourceKey, FetchedSource>();
  private wordnet?: Map<string, Synset>;
  constructor(private log: Log) {}
  get(k: SourceKey): FetchedSource {
    let f = this.fetched.get(k);
    if (!f) { f = fetchSource(SOURCES[k], this.log); this.fetched.set(k, f); }
    return f;
  }
  many<K extends SourceKey>(keys: readonly K[]): Record<K, FetchedSource> {
    return Object.fromEntries(keys.map((k) => [k, this.get(k)])) as Record<K, FetchedSource>;
  }
  synsets(): Map<string, Synset> { return (this.wordnet ??= loadWordnet(this.get('wordnet'))); }
  records(keys: readonly SourceKey[]): SourceRecord[] { return keys.map((k) => this.get(k).record); }
}

/** Document counts through cleaning, recorded in the manifest. */
export type CleaningStats = Record<string, number>;

/** Where a role's cleaned corpus is cached: keyed by its sources, the code version and the settings extraction uses. */
function corpusFile(role: Role, src: SourceSet, p: DataPreset): string {
  const key = sha256(stableStringify({ v: DATA_FORMAT_VERSION, role, sources: src.records(ROLE_SOURCES[role]), mathSynthetic: role === 'math' ? p.mathSynthetic : 0, seed: p.seed })).slice(0, 16);
  return path.join(cacheRoot(), 'corpus', `${role}-${key}.jsonl`);
}

/**
 * A built-in role's cleaned corpus as JSON Lines ({ id, source, text, group? } per document; extracted when
 * missing): what a data config's `{ "builtin": role, "from": name }` source reads.
 */
export function builtinCorpusFile(role: Role, p: DataPreset, log: Log = () => {}): string {
  const src = new SourceSet(log);
  const file = corpusFile(role, src, p);
  if (!fs.existsSync(file) || !fs.existsSync(file.replace(/\.jsonl$/, '.stats.json'))) roleCorpus(role, src, p, log);
  return file;
}

/** The whole cleaned corpus of a role (before preset selection), cached by sources + code version. */
function roleCorpus(role: Role, src: SourceSet, p: DataPreset, log: Log): { docs: Doc[]; stats: CleaningStats } {
  const file = corpusFile(role, src, p);
  const statsFile = file.replace(/\.jsonl$/, '.stats.json');
  if (fs.existsSync(file) && fs.existsSync(statsFile)) {
    return { docs: fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc), stats: JSON.parse(fs.readFileSync(statsFile, 'utf8')) };
  }
  log(`extracting ${role} corpus`);
  const stats: CleaningStats = {};
  let docs: Doc[];
  switch (role) {
    case 'general': docs = generalDocs(src.many(['gutenberg', 'sotu', 'brown', 'spamAssassin'])); break;
    case 'code': docs = codeDocs(src.many(['numpy', 'networkx', 'sklearn', 'django', 'pystdlib'])); break;
    case 'math': docs = mathDocs(src.many(MATH_SOURCES), p.mathSynthetic, p.seed); break;
    case 'instruction': docs = instructionDocs(src.many(['bsdgames']), src.synsets(), p.seed); break;
    case 'knowledge': docs = knowledgeDocs(src.many(['gcide', 'foldoc']), src.synsets()); break;
    case 'web-quality': docs = webDocs(src.many(WEB_SOURCES), stats); break;
  }
  docs = docs.filter((d) => d.text.length > 0);
  stats.extracted = docs.length;
  docs = dedup(docs);
  stats.exactDuplicatesRemoved = stats.extracted - docs.length;
  const beforeNear = docs.length;
  docs = nearDedup(docs);
  stats.nearDuplicatesRemoved = beforeNear - docs.length;
  if (SCIQ_LEAK_CHECKED_ROLES.includes(role)) {
    const leak = filterLeaks(docs, (d) => d.text, new LeakIndex(sciqHeldOutProbes(src.synsets(), p.seed)));
    docs = leak.kept;
    Object.assign(stats, leakCleaningStats('sciqLeak', leak.stats));
  }
  stats.kept = docs.length;
  if (docs.length === 0) throw new Error(`data: role ${role} extracted no documents from ${ROLE_SOURCES[role].join(', ')}`);
  writeFileDurable(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  writeFileDurable(statsFile, stableStringify(stats));
  return { docs, stats };
}

/**
 * Split by document group (a book's sections form one group; any other document is its own), stratified by
 * source so val mixes the sources as the role does. Per source, groups are ordered by a seeded hash of their
 * key (independent of listing order) and go to val while that source's val holds fewer than its share of
 * valChars (share = its fraction of the role's characters), each contributing whole documents in seeded
 * order until that share is full (the rest of a val group is left unused, never trained on); every later
 * group is train. Train takes the train groups' documents in seeded order up to trainChars.
 */
export function splitDocs(docs: Doc[], p: DataPreset): { train: Doc[]; val: Doc[] } {
  const byHash = <T>(xs: T[], key: (x: T) => string) => xs.map((x) => ({ x, k: key(x), u: hashUnit(key(x), p.seed) })).sort((a, b) => a.u - b.u || (a.k < b.k ? -1 : 1)).map((y) => y.x);
  const ordered = byHash(docs, (x) => x.id);
  const total = docs.reduce((n, d) => n + d.text.length, 0);
  const sources = new Map<string, { chars: number; groups: Map<string, Doc[]> }>();
  for (const d of ordered) {
    const s = sources.get(d.source) ?? { chars: 0, groups: new Map<string, Doc[]>() };
    sources.set(d.source, s);
    s.chars += d.text.length;
    const g = d.group ?? d.id;
    const list = s.groups.get(g);
    if (list) list.push(d); else s.groups.set(g, [d]);
  }
  const inVal = new Set<Doc>(), inTrainGroup = new Set<Doc>();
  for (const [, s] of [...sources.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const budget = (p.valChars * s.chars) / total;
    let v = 0;
    for (const g of byHash([...s.groups.keys()], (k) => k)) {
      if (v < budget) {
        for (const d of s.groups.get(g)!) { if (v >= budget) break; inVal.add(d); v += d.text.length; }
      } else s.groups.get(g)!.forEach((d) => inTrainGroup.add(d));
    }
  }
  const val = ordered.filter((d) => inVal.has(d));
  const train: Doc[] = [];
  let t = 0;
  for (const d of ordered) {
    if (t >= p.trainChars) break;
    if (inTrainGroup.has(d)) { train.push(d); t += d.text.length; }
  }
  return { train, val };
}

// ---------------------------------------------------------------- manifest

interface RoleManifest {
  card: RoleCard;
  /** Documents extracted, duplicates removed (exact, near), kept — over the role's whole corpus, before the preset's selection. */
  cleaning: CleaningStats;
  train: ShardIndex & { docOffsets: string };
  val: ShardIndex & { docOffsets: string };
  sourcesBySplit: { train: Record<string, number>; val: Record<string, number> };
}
interface SftManifestEntry {
  file: string; sha256: string; sizes: { train: number; val: number; test: number }; sources: SourceRecord[];
  /** Examples per split left out (before the size cap) because prompt + response + eos did not fit sizes.sftContext tokens. */
  tooLong: { train: number; val: number; test: number };
}
export interface DataManifest {
  formatVersion: number;
  /** The data set's name (tiny, small, pythia): presets sharing data share one build. */
  preset: string;
  buildKey: string;
  sizes: Omit<DataPreset, 'preset'>;
  tokenizer: { file: string; hash: string; vocabSize: number; bpeVocabSize: number; eosId: number; sampleChars: Record<string, number> };
  roles: Record<Role, RoleManifest>;
  sft: Record<SftTaskName, SftManifestEntry>;
  manifestHash: string;
  /** Parts of roles (ablations), with their own shard hashes; not in manifestHash (see parts.ts). */
  parts?: Record<RolePart, PartManifest>;
}

/** The key a data folder's manifest must carry to be loaded as a preset's built data (sizes, sources, format). */
export function buildKey(p: DataPreset): string {
  const sources = Object.fromEntries(Object.entries(SOURCES).map(([k, s]) => [k, `${s.kind}:${s.name}@${s.version}`]));
  const { preset: _name, ...sizes } = p; // presets that share a data set share its key
  return sha256(stableStringify({ v: DATA_FORMAT_VERSION, p: sizes, sources })).slice(0, 16);
}

/** Where built-in data is built: <cache>/data/<data config name> (the preset's default config unless sizes are given). */
export function dataDir(preset: PresetName, p: DataPreset = dataPreset(preset)): string { return path.join(cacheRoot(), 'data', p.dataName); }

// ---------------------------------------------------------------- build

function capSplit(s: SplitExamples, n: DataPreset['sft'], seed: number): SplitExamples {
  // A seeded, order-independent choice of which examples to keep when a split exceeds its cap.
  const cap = (xs: SftExample[], k: number) => xs.map((x) => ({ x, u: hashUnit(x.id, seed) })).sort((a, b) => a.u - b.u || (a.x.id < b.x.id ? -1 : 1)).slice(0, k).map((y) => y.x);
  return { train: cap(s.train, n.train), val: cap(s.val, n.val), test: cap(s.test, n.test) };
}

/** The examples whose tokens fit the context whole (the tokenizer is known only here, after it is trained), and how many per split did not. */
function keepFitting(s: SplitExamples, tok: BpeTokenizer, context: number): { kept: SplitExamples; tooLong: SftManifestEntry['tooLong'] } {
  const kept: SplitExamples = { train: [], val: [], test: [] };
  const tooLong = { train: 0, val: 0, test: 0 };
  for (const split of ['train', 'val', 'test'] as const) {
    for (const ex of s[split]) {
      if (sftExampleFits(tok.encode(ex.prompt).length, tok.encode(ex.response).length, context)) kept[split].push(ex);
      else tooLong[split]++;
    }
  }
  return { kept, tooLong };
}

function encodeDocs(tok: BpeTokenizer, docs: Doc[]): number[][] { return docs.map((d) => tok.encode(d.text)); }

function writeDocOffsets(file: string, docs: number[][]): string {
  const off = new Uint32Array(docs.length);
  let o = 0;
  docs.forEach((d, i) => { off[i] = o; o += d.length + 1; });
  writeFileDurable(file, Buffer.from(off.buffer));
  return path.basename(file);
}

/** Encode one split's documents into `<base>.bin` + `<base>.docs.u32` under dir; returns its manifest index and documents by source. */
function writeSplitShard(dir: string, base: string, docs: Doc[], tok: BpeTokenizer): { index: ShardIndex & { docOffsets: string }; bySource: Record<string, number> } {
  const ids = encodeDocs(tok, docs);
  fs.mkdirSync(path.dirname(path.join(dir, base)), { recursive: true });
  const idx = writeShard(path.join(dir, `${base}.bin`), ids, tok.eosId, tok.vocabSize);
  writeDocOffsets(path.join(dir, `${base}.docs.u32`), ids);
  const bySource: Record<string, number> = {};
  for (const d of docs) bySource[d.source] = (bySource[d.source] ?? 0) + 1;
  return { index: { ...idx, file: `${base}.bin`, docOffsets: `${base}.docs.u32` }, bySource };
}

/** Shards of every part of a role (same documents and tokenizer as the role, some sources only). */
function writeParts(dir: string, splits: Record<Role, { train: Doc[]; val: Doc[] }>, tok: BpeTokenizer, log: Log): Record<RolePart, PartManifest> {
  const parts = {} as Record<RolePart, PartManifest>;
  for (const part of ROLE_PARTS) {
    log(`encoding part ${part}`);
    const spec = PART_SPECS[part];
    const docs = partDocs(part, splits[spec.role]);
    const w = { train: writeSplitShard(dir, partShardBase(part, 'train'), docs.train, tok), val: writeSplitShard(dir, partShardBase(part, 'val'), docs.val, tok) };
    if (docs.train.length === 0 || docs.val.length === 0) throw new Error(`data: part ${part} of role ${spec.role} has no ${docs.train.length === 0 ? 'train' : 'val'} documents`);
    parts[part] = {
      role: spec.role, description: spec.description, train: w.train.index, val: w.val.index,
      documents: { train: docs.train.length, val: docs.val.length }, tokens: { train: w.train.index.numTokens, val: w.val.index.numTokens },
      sourcesBySplit: { train: w.train.bySource, val: w.val.bySource },
    };
  }
  return parts;
}

async function build(p: DataPreset, dir: string, log: Log): Promise<void> {
  const preset = p.preset;
  const src = new SourceSet(log);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });

  // 1. Corpora and splits.
  const splits = {} as Record<Role, { train: Doc[]; val: Doc[] }>;
  const cleaning = {} as Record<Role, CleaningStats>;
  for (const role of ROLES) {
    const c = roleCorpus(role, src, p, log);
    splits[role] = splitDocs(c.docs, p);
    cleaning[role] = c.stats;
  }

  // 2. Tokenizer on a sample of every role's train split (the first documents in seeded order).
  log(`training tokenizer (vocab ${p.bpeVocabSize})`);
  const sampleDir = path.join(tmp, 'tokenizer-sample');
  fs.mkdirSync(sampleDir);
  const sampleChars: Record<string, number> = {};
  const sampleFiles: string[] = [];
  for (const role of ROLES) {
    let s = '', i = 0;
    const docs = splits[role].train;
    while (s.length < p.tokenizerSampleChars && i < docs.length) s += docs[i++].text + '\n\n';
    sampleChars[role] = s.length;
    const f = path.join(sampleDir, `${role}.txt`);
    fs.writeFileSync(f, s);
    sampleFiles.push(f);
  }
  const tokJson = trainBpe(sampleFiles, p.bpeVocabSize);
  fs.rmSync(sampleDir, { recursive: true, force: true });
  const tokText = serializeTokenizer(tokJson);
  const tokFile = `tokenizer-${tokenizerHash(tokText)}.json`;
  writeSynced(path.join(tmp, tokFile), [tokText]);
  const tok = new BpeTokenizer(tokJson, tokText, p.vocabSize);

  // 3. Shards and role cards.
  const roles = {} as Record<Role, RoleManifest>;
  fs.mkdirSync(path.join(tmp, 'shards'));
  for (const role of ROLES) {
    log(`encoding ${role}`);
    const rm: Partial<RoleManifest> = {};
    const tokens = { train: 0, val: 0 };
    const bySource = { train: {} as Record<string, number>, val: {} as Record<string, number> };
    for (const split of ['train', 'val'] as const) {
      const w = writeSplitShard(tmp, path.join('shards', `${role}.${split}`), splits[role][split], tok);
      rm[split] = w.index;
      tokens[split] = w.index.numTokens;
      bySource[split] = w.bySource;
    }
    rm.card = {
      role, description: ROLE_DESCRIPTIONS[role], sources: src.records(ROLE_SOURCES[role]),
      documents: { train: splits[role].train.length, val: splits[role].val.length }, tokens,
    };
    rm.sourcesBySplit = bySource;
    rm.cleaning = cleaning[role];
    roles[role] = rm as RoleManifest;
  }
  const parts = writeParts(tmp, splits, tok, log);

  // 4. SFT tasks.
  log('building SFT tasks');
  const sft = {} as Record<SftTaskName, SftManifestEntry>;
  fs.mkdirSync(path.join(tmp, 'sft'));
  for (const task of SFT_TASKS) {
    let ex: SplitExamples;
    switch (task) {
      case 'pycode': ex = pycodeExamples(src.get('sympy'), p.sftMaxChars, p.seed); break;
      case 'gsm': ex = gsmExamples(p.sft, p.seed); break;
      case 'sciq': ex = sciqExamples(src.synsets(), p.seed); break;
      case 'lima': ex = limaExamples(src.many(['pythonDoc', 'perlDoc', 'debianFaq']), p.sftMaxChars, p.seed); break;
    }
    const fitting = keepFitting(ex, tok, p.sftContext);
    ex = capSplit(fitting.kept, p.sft, p.seed);
    for (const split of ['train', 'val', 'test'] as const) {
      if (ex[split].length === 0) throw new Error(`data: SFT task ${task} has no ${split} examples for preset ${preset}`);
    }
    const body = stableStringify({ name: task, description: TASK_DESCRIPTIONS[task], maxNewTokens: maxNewTokens(task, p), ...ex }, 0);
    const file = `sft/${task}.json`;
    writeSynced(path.join(tmp, file), [body]);
    sft[task] = { file, sha256: sha256(body), sizes: { train: ex.train.length, val: ex.val.length, test: ex.test.length }, sources: src.records(TASK_SOURCES[task]), tooLong: fitting.tooLong };
  }

  // 5. Manifest: hash over role manifests, tokenizer hash and SFT files; no timestamps.
  const m: Omit<DataManifest, 'manifestHash'> = {
    formatVersion: DATA_FORMAT_VERSION, preset: p.dataName, buildKey: buildKey(p), sizes: (({ preset: _n, ...rest }) => rest)(p),
    tokenizer: { file: tokFile, hash: tok.hash, vocabSize: tok.vocabSize, bpeVocabSize: tok.eosId + 1, eosId: tok.eosId, sampleChars },
    roles, sft,
  };
  // Parts stay out of the hash: they are views of the roles' documents (see parts.ts), so adding one keeps every id.
  const manifest: DataManifest = { ...m, manifestHash: sha256(stableStringify(m)).slice(0, 16), parts };
  writeSynced(path.join(tmp, 'manifest.json'), [stableStringify(manifest)]);
  // Publish atomically: whoever finishes first wins; a concurrent builder's identical result is discarded.
  if (fs.existsSync(path.join(dir, 'manifest.json'))) { fs.rmSync(tmp, { recursive: true, force: true }); return; }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    publishDir(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw e;
  }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e: any) { return e.code === 'EPERM'; }
}

/**
 * One builder per preset at a time (test files run in parallel processes): an atomic mkdir lock holding the
 * builder's pid. Others wait for it; a lock whose process has died is taken over.
 */
export async function withBuildLock<T>(dir: string, log: Log, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e: any) {
      if (e.code !== 'EEXIST') throw e;
      let pid = NaN;
      try { pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')); } catch { /* being created */ }
      if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) { fs.rmSync(lock, { recursive: true, force: true }); continue; }
      if (!waited) { log(`waiting for another process building ${dir} (lock ${lock})`); waited = true; }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  // We hold the lock: temp dirs left by builders that died are garbage.
  const base = path.basename(dir);
  for (const f of fs.readdirSync(path.dirname(dir))) {
    if (f.startsWith(`${base}.tmp-`)) fs.rmSync(path.join(path.dirname(dir), f), { recursive: true, force: true });
  }
  try { return await fn(); } finally { fs.rmSync(lock, { recursive: true, force: true }); }
}

export function maxNewTokens(task: SftTaskName, p: DataPreset): number {
  // Enough for the reference responses at this preset: multiple choice needs a few tokens, code/answers more.
  const scale = p.sftMaxChars / 600;
  return { pycode: Math.round(128 * scale), gsm: Math.round(128 * scale), sciq: 8, lima: Math.round(160 * scale) }[task];
}

// ---------------------------------------------------------------- load

export function readManifest(preset: PresetName, p: DataPreset = dataPreset(preset)): DataManifest {
  const file = path.join(dataDir(preset, p), 'manifest.json');
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { throw new Error(`data: no built data for preset ${preset} (${file} missing): run ensureData('${preset}') or npm run data -- --preset ${preset}`); }
  try { return JSON.parse(text) as DataManifest; } catch { throw new Error(`data: ${file} is not valid JSON (truncated or corrupt): delete ${path.dirname(file)} and rebuild`); }
}

export function loadTask(dir: string, entry: SftManifestEntry, task: SftTaskName): SftTask {
  const file = path.join(dir, entry.file);
  const text = fs.readFileSync(file, 'utf8');
  if (sha256(text) !== entry.sha256) throw new Error(`data: SFT task file ${file} does not match its manifest hash (corrupt or edited): rebuild`);
  const raw = JSON.parse(text) as { description: string; maxNewTokens: number; train: SftExample[]; val: SftExample[]; test: SftExample[] };
  return {
    name: task, description: raw.description, train: raw.train, val: raw.val, test: raw.test, maxNewTokens: raw.maxNewTokens, check: CHECKERS[task],
    ...(ANSWER_ENDED[task] ? { stop: ANSWER_ENDED[task] } : {}), ...(entry.tooLong ? { tooLong: entry.tooLong } : {}),
  };
}

/** Shards whose sha256 this process has checked (path → size:mtime), so repeated ensureData calls stay fast. */
const verified = new Map<string, string>();
export function verifyOnce(shard: FileTokenShard): FileTokenShard {
  const st = fs.statSync(shard.path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  if (verified.get(shard.path) !== stamp) { shard.verify(); verified.set(shard.path, stamp); }
  return shard;
}

/** Each role's shards (verified once) and each SFT task of a built data folder, as its manifest lists them. */
export function loadRolesAndTasks(
  dir: string,
  m: { roles: Partial<Record<Role, Pick<RoleManifest, 'card' | 'train' | 'val'>>>; sft: Record<SftTaskName, SftManifestEntry> },
): Pick<DataBundle, 'roles' | 'sft'> {
  const roles = {} as Record<Role, RoleData>;
  for (const role of ROLES) {
    const r = m.roles[role];
    if (!r) throw new Error(`data: manifest ${path.join(dir, 'manifest.json')} has no role "${role}"`);
    roles[role] = {
      role,
      train: verifyOnce(new FileTokenShard(r.train, path.join(dir, r.train.file))),
      val: verifyOnce(new FileTokenShard(r.val, path.join(dir, r.val.file))),
      card: r.card,
    };
  }
  const sft = {} as Record<SftTaskName, SftTask>;
  for (const task of SFT_TASKS) sft[task] = loadTask(dir, m.sft[task], task);
  return { roles, sft };
}

function loadBundle(preset: PresetName, dir: string, m: DataManifest): DataBundle {
  const tokenizer = BpeTokenizer.load(path.join(dir, m.tokenizer.file), m.tokenizer.vocabSize);
  if (tokenizer.hash !== m.tokenizer.hash) throw new Error(`data: tokenizer ${m.tokenizer.file} hash ${tokenizer.hash} differs from the manifest (${m.tokenizer.hash}): rebuild`);
  const parts: DataBundle['parts'] = {};
  for (const [part, pm] of Object.entries(m.parts ?? {}) as [RolePart, PartManifest][]) {
    parts[part] = { train: verifyOnce(new FileTokenShard(pm.train, path.join(dir, pm.train.file))), val: verifyOnce(new FileTokenShard(pm.val, path.join(dir, pm.val.file))) };
  }
  return { preset, dir, tokenizer, manifestHash: m.manifestHash, ...loadRolesAndTasks(dir, m), parts };
}

/**
 * Build what is missing for a preset (idempotent; fast when built) and return the bundle. `sizes`: a built-in
 * data config's sizes for this preset (configs.ts); default: the preset's own (data/configs/<default>.json).
 */
export async function ensureData(preset: PresetName, opts: { quiet?: boolean; sizes?: DataPreset } = {}): Promise<DataBundle> {
  const p = opts.sizes ?? dataPreset(preset);
  const log: Log = opts.quiet ? () => {} : (s) => console.log(`[data ${p.dataName === preset ? preset : `${p.dataName} for ${preset}`}] ${s}`);
  const dir = dataDir(preset, p);
  const manifestFile = path.join(dir, 'manifest.json');
  const current = () => {
    if (!fs.existsSync(manifestFile)) return null;
    const m = readManifest(preset, p);
    return m.buildKey === buildKey(p) && m.formatVersion === DATA_FORMAT_VERSION ? m : null;
  };
  const ready = current();
  if (ready) return loadBundle(preset, dir, ready);
  await withBuildLock(dir, log, async () => {
    if (current()) return; // another process built it while we waited
    if (fs.existsSync(manifestFile)) {
      log(`built data in ${dir} is stale (build key or format changed): rebuilding`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const t0 = process.hrtime.bigint();
    try {
      await build(p, dir, log);
    } catch (e) {
      // Nothing was published: remove the half-built folder (it may hold what filled the disk).
      fs.rmSync(`${dir}.tmp-${process.pid}`, { recursive: true, force: true });
      if (isDiskFull(e)) {
        throw new Error(`data: no space left on the device while building ${dir} (${(e as Error).message.split('\n')[0]}); nothing was published and data built before is intact: free some space and rerun`);
      }
      throw e;
    }
    log(`built in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s → ${dir}`);
  });
  return loadBundle(preset, dir, readManifest(preset, p));
}
