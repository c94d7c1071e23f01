// Synthetic data with the shape of a preset's real data (./shape.ts), written where ensureData(preset) looks
// for built data and in the built-in layout, so the whole pipeline (plans, run store, workers, SFT, accuracy
// scoring) runs on it unchanged. It is for timing where the real corpus cannot be built (a GPU machine
// without network): the sizes are the real ones, the text is not language. Its manifest carries a
// `synthetic` mark and its cards say SYNTHETIC; it is only written into a cache holding no real data.
//
// What is generated, per the shape:
// - shards (roles and parts, train and val): the real token and document counts; document lengths spread
//   exponentially, each followed by EOS; ids drawn with Zipf frequencies over a seeded order of the non-EOS
//   ids (learnable: a model's loss falls from ln V towards the unigram entropy), so it trains like data;
// - a tokenizer of the preset's vocabulary (./tokenizer.ts) in which each filler word is one token;
// - SFT tasks with the real split sizes, in the real prompt formats (gsm "#### n", sciq four lettered
//   choices, pycode a def with a docstring and an indented body, lima question/answer), filled to prompt and
//   response token lengths drawn from the real quantiles, so the checkers and option scoring run as usual.
import * as fs from 'fs';
import * as path from 'path';
import { ROLE_PARTS, ROLES, SFT_TASKS, type PresetName, type RolePart, type SftTaskName } from '../../config';
import type { RoleCard, SftExample } from '../types';
import { dataPreset } from '../presets';
import { buildKey, dataDir, DATA_FORMAT_VERSION, maxNewTokens, stableStringify, withBuildLock, type DataManifest, type Log } from '../build';
import { tokenWidth, type ShardIndex } from '../shards';
import { partShardBase, PART_SPECS, type PartManifest } from '../parts';
import { choiceResponse, choiceLetter } from '../sft/checkers';
import { sftExampleFits } from '../sft/fit';
import { BpeTokenizer, serializeTokenizer, tokenizerHash } from '../../tokenizer/bpe';
import { publishDir, sha256, writeFileDurable } from '../../durable';
import { Rng, mixSeed } from '../../rng';
import { lengthAt, readDataShape, type DataShape, type ShardShape, type SftShape } from './shape';
import { syntheticTokenizerJson, syntheticWords, wordCount } from './tokenizer';

/** Bump when what is generated changes. */
export const SYNTHETIC_VERSION = 1;

/** The mark a generated manifest carries (real builds have none). */
export interface SyntheticMark { generator: 'src/data/synthetic'; version: number; seed: number; shapeOf: string }

type SyntheticManifest = DataManifest & { synthetic: SyntheticMark };

export interface SyntheticOptions {
  /** Seed of every draw (default 0). */
  seed?: number;
  /** Default: the committed shape of the preset's data (data/shapes/<data set>.json). */
  shape?: DataShape;
  log?: Log;
}

/** The synthetic mark of the data folder's manifest, null for real data, undefined when there is none. */
export function syntheticMark(dir: string): SyntheticMark | null | undefined {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) return undefined;
  try { return (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<SyntheticManifest>).synthetic ?? null; } catch { return null; }
}

// ---------------------------------------------------------------- shards

/** Token ids with Zipf(1) frequencies over a seeded order of the ids other than EOS, by a 2^20-entry lookup table. */
class ZipfIds {
  private static readonly BITS = 20;
  private readonly table: Uint32Array;
  constructor(vocabSize: number, eosId: number, private readonly rng: Rng) {
    const ids = rng.shuffle(Array.from({ length: vocabSize }, (_, i) => i).filter((i) => i !== eosId));
    let total = 0;
    for (let r = 0; r < ids.length; r++) total += 1 / (r + 1);
    const n = 1 << ZipfIds.BITS;
    this.table = new Uint32Array(n);
    let r = 0, cum = 1 / total;
    for (let j = 0; j < n; j++) {
      const u = (j + 0.5) / n;
      while (cum < u && r < ids.length - 1) { r++; cum += 1 / ((r + 1) * total); }
      this.table[j] = ids[r];
    }
  }
  next(): number { return this.table[(this.rng.next() * this.table.length) | 0]; }
}

/** Document lengths (EOS excluded) of one shard: `docs` lengths ≥ 1, spread exponentially, summing to tokens − docs. */
export function documentLengths(s: ShardShape, rng: Rng): number[] {
  const content = s.tokens - s.docs;
  if (s.docs < 1 || content < s.docs) throw new Error(`synthetic data: a shard of ${s.tokens} tokens cannot hold ${s.docs} documents`);
  const w = Array.from({ length: s.docs }, () => -Math.log(1 - rng.next()) + 0.05);
  const sum = w.reduce((a, b) => a + b, 0);
  const spare = content - s.docs;
  const len = w.map((x) => 1 + Math.floor((x / sum) * spare));
  let left = content - len.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % len.length, left--) len[i]++;
  return len;
}

/** Write `<base>.bin` and `<base>.docs.u32` under dir; returns the shard's manifest index. */
function writeSyntheticShard(dir: string, base: string, s: ShardShape, vocabSize: number, eosId: number, ids: ZipfIds, rng: Rng): ShardIndex & { docOffsets: string } {
  const lens = documentLengths(s, rng);
  const buf = tokenWidth(vocabSize) === 2 ? new Uint16Array(s.tokens) : new Uint32Array(s.tokens);
  const offsets = new Uint32Array(lens.length);
  let o = 0;
  lens.forEach((n, d) => {
    offsets[d] = o;
    for (let i = 0; i < n; i++) buf[o++] = ids.next();
    buf[o++] = eosId;
  });
  const sha = writeFileDurable(path.join(dir, `${base}.bin`), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  writeFileDurable(path.join(dir, `${base}.docs.u32`), new Uint8Array(offsets.buffer));
  const index: ShardIndex = { file: `${base}.bin`, numTokens: s.tokens, numDocs: s.docs, vocabSize, sha256: sha };
  return { ...(tokenWidth(vocabSize) === 2 ? index : { ...index, bytesPerToken: 4 as const }), docOffsets: `${base}.docs.u32` };
}

// ---------------------------------------------------------------- SFT examples

/** One example from word counts (prompt filler, response filler); `words(k)` gives k one-token words, each with its leading space. */
type Template = (words: (k: number) => string, kPrompt: number, kResponse: number, rng: Rng, id: string) => SftExample;

const phrase = (words: (k: number) => string, k: number) => words(Math.max(1, k)).slice(1);

/** The real tasks' prompt formats (src/data/sft/build-tasks.ts), with filler words for their text. */
const TEMPLATES: Record<SftTaskName, Template> = {
  gsm: (words, kp, kr, rng, id) => {
    const answer = String(rng.int(1000));
    return { id, prompt: `Question:${words(kp)}\nAnswer:`, response: `${words(kr)}\n#### ${answer}`, answer };
  },
  sciq: (words, kp, kr, rng, id) => {
    const options = [0, 1, 2, 3].map((i) => phrase(words, i === 0 ? kr : kr + rng.int(3) - 1));
    const pos = rng.int(4);
    const choices = options.slice(1);
    choices.splice(pos, 0, options[0]);
    const prompt = `Question:${words(kp)}\n` + choices.map((c, i) => `${choiceLetter(i)}. ${c}`).join('\n') + '\nAnswer:';
    return { id, prompt, response: choiceResponse(pos, options[0]), answer: choiceLetter(pos), choices };
  },
  pycode: (words, kp, kr, rng, id) => {
    const lines: string[] = [];
    for (let left = Math.max(1, kr); left > 0; left -= 8) lines.push(`    ${phrase(words, Math.min(8, left))}`);
    if (kr >= 8) lines.push(`    return${words(1)}`); // short bodies are one statement
    const body = lines.join('\n');
    return { id, prompt: `def${words(1)}(${phrase(words, 1)}):\n    """${phrase(words, kp)}"""\n`, response: body + '\n', answer: body };
  },
  lima: (words, kp, kr, _rng, id) => {
    const response = words(Math.max(1, kr));
    return { id, prompt: `Question:${words(kp)}\nAnswer:`, response, answer: response.slice(1) };
  },
};

/**
 * An example of `task` whose prompt and response have (as nearly as the format allows) the target token
 * lengths: filler word counts are corrected by what the tokenizer measures, each filler word being one token.
 */
function exampleWithLengths(task: SftTaskName, target: { prompt: number; response: number }, tok: BpeTokenizer, vocabWords: string[], seed: number, id: string): SftExample {
  let kp = target.prompt, kr = target.response;
  let best: { ex: SftExample; err: number } | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const rng = new Rng(seed); // the same words every attempt: only the counts change
    const words = (k: number) => { let s = ''; for (let i = 0; i < k; i++) s += ' ' + vocabWords[rng.int(vocabWords.length)]; return s; };
    const ex = TEMPLATES[task](words, kp, kr, new Rng(mixSeed(seed, 1)), id);
    const lp = tok.encode(ex.prompt).length, lr = tok.encode(ex.response).length;
    const err = Math.abs(lp - target.prompt) + Math.abs(lr - target.response);
    if (!best || err < best.err) best = { ex, err };
    if (err === 0) break;
    kp = Math.max(0, kp + target.prompt - lp);
    kr = Math.max(1, kr + target.response - lr);
  }
  return best!.ex;
}

/** A task's examples: the shape's split sizes, lengths drawn from its quantiles (pairs that would not fit the context are redrawn). */
function syntheticTask(task: SftTaskName, s: SftShape, context: number, tok: BpeTokenizer, vocabWords: string[], seed: number): Record<'train' | 'val' | 'test', SftExample[]> {
  const out = { train: [] as SftExample[], val: [] as SftExample[], test: [] as SftExample[] };
  const rng = new Rng(mixSeed(seed, SFT_TASKS.indexOf(task)));
  for (const split of ['train', 'val', 'test'] as const) {
    for (let i = 0; i < s.sizes[split]; i++) {
      const id = `${task}/synthetic/${split}/${i}`;
      for (let tries = 0; ; tries++) {
        const target = { prompt: lengthAt(s.promptTokens, rng.next()), response: lengthAt(s.responseTokens, rng.next()) };
        if (tries < 50 && !sftExampleFits(target.prompt, target.response, context)) continue;
        const ex = exampleWithLengths(task, target, tok, vocabWords, rng.int(2 ** 31), id);
        if (sftExampleFits(tok.encode(ex.prompt).length, tok.encode(ex.response).length, context)) { out[split].push(ex); break; }
        if (tries > 200) throw new Error(`synthetic data: cannot make a ${task} example that fits the context of ${context} tokens`);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- the bundle

const DESCRIPTION = (what: string, shape: DataShape) =>
  `SYNTHETIC ${what} for timing only (src/data/synthetic): the token and document counts of the real ${shape.dataName} data (manifest ${shape.measuredFrom}), Zipf-distributed token ids, no language. Never report results on it.`;

async function generate(preset: PresetName, dir: string, shape: DataShape, seed: number, log: Log): Promise<void> {
  const p = dataPreset(preset);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'shards', 'parts'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'sft'));

  const tokJson = syntheticTokenizerJson(shape.vocabSize);
  const tokText = serializeTokenizer(tokJson);
  const tokFile = `tokenizer-${tokenizerHash(tokText)}.json`;
  writeFileDurable(path.join(tmp, tokFile), tokText);
  const tok = new BpeTokenizer(tokJson, tokText, p.vocabSize);
  if (tok.eosId !== shape.eosId || tok.vocabSize !== shape.vocabSize) throw new Error(`synthetic data: tokenizer has EOS ${tok.eosId} and ${tok.vocabSize} ids; the shape says ${shape.eosId} and ${shape.vocabSize}`);

  const rng = new Rng(mixSeed(seed, 7));
  const ids = new ZipfIds(tok.vocabSize, tok.eosId, rng);
  const roles = {} as DataManifest['roles'];
  for (const role of ROLES) {
    log(`shards of ${role}`);
    const s = shape.roles[role];
    const train = writeSyntheticShard(tmp, path.join('shards', `${role}.train`), s.train, tok.vocabSize, tok.eosId, ids, rng);
    const val = writeSyntheticShard(tmp, path.join('shards', `${role}.val`), s.val, tok.vocabSize, tok.eosId, ids, rng);
    const card: RoleCard = { role, description: DESCRIPTION(`${role} role`, shape), sources: [], documents: { train: s.train.docs, val: s.val.docs }, tokens: { train: s.train.tokens, val: s.val.tokens } };
    roles[role] = { card, cleaning: {}, train, val, sourcesBySplit: { train: { synthetic: s.train.docs }, val: { synthetic: s.val.docs } } };
  }
  const parts = {} as Record<RolePart, PartManifest>;
  for (const part of ROLE_PARTS) {
    const s = shape.parts[part];
    if (!s) continue;
    const train = writeSyntheticShard(tmp, partShardBase(part, 'train'), s.train, tok.vocabSize, tok.eosId, ids, rng);
    const val = writeSyntheticShard(tmp, partShardBase(part, 'val'), s.val, tok.vocabSize, tok.eosId, ids, rng);
    parts[part] = {
      role: PART_SPECS[part].role, description: DESCRIPTION(`part ${part}`, shape), train, val,
      documents: { train: s.train.docs, val: s.val.docs }, tokens: { train: s.train.tokens, val: s.val.tokens },
      sourcesBySplit: { train: { synthetic: s.train.docs }, val: { synthetic: s.val.docs } },
    };
  }

  const vocabWords = syntheticWords(wordCount(tok.vocabSize));
  const sft = {} as DataManifest['sft'];
  for (const task of SFT_TASKS) {
    log(`SFT task ${task}`);
    const ex = syntheticTask(task, shape.sft[task], shape.sftContext, tok, vocabWords, mixSeed(seed, 11));
    const body = stableStringify({ name: task, description: DESCRIPTION(`${task} task in its real prompt format`, shape), maxNewTokens: maxNewTokens(task, p), ...ex }, 0);
    const file = `sft/${task}.json`;
    writeFileDurable(path.join(tmp, file), body);
    sft[task] = { file, sha256: sha256(body), sizes: { train: ex.train.length, val: ex.val.length, test: ex.test.length }, sources: [], tooLong: { train: 0, val: 0, test: 0 } };
  }

  const synthetic: SyntheticMark = { generator: 'src/data/synthetic', version: SYNTHETIC_VERSION, seed, shapeOf: shape.measuredFrom };
  const m: Omit<SyntheticManifest, 'manifestHash' | 'parts'> = {
    formatVersion: DATA_FORMAT_VERSION, preset: p.dataName, buildKey: buildKey(p), sizes: (({ preset: _n, ...rest }) => rest)(p),
    tokenizer: { file: tokFile, hash: tok.hash, vocabSize: tok.vocabSize, bpeVocabSize: tok.eosId + 1, eosId: tok.eosId, sampleChars: {} },
    roles, sft, synthetic,
  };
  const manifest: SyntheticManifest = { ...m, manifestHash: sha256(stableStringify(m)).slice(0, 16), parts };
  writeFileDurable(path.join(tmp, 'manifest.json'), stableStringify(manifest));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  publishDir(tmp, dir);
}

/**
 * Generate a preset's synthetic data into the current cache (MIDTRAIN_CACHE), where ensureData(preset) then
 * loads it; returns its folder. Idempotent for the same seed and shape. Refuses (one line) to replace real data.
 */
export async function writeSyntheticData(preset: PresetName, opts: SyntheticOptions = {}): Promise<string> {
  const shape = opts.shape ?? readDataShape(preset);
  const seed = opts.seed ?? 0;
  const log: Log = opts.log ?? (() => {});
  const dir = dataDir(preset);
  const fresh = () => {
    const mark = syntheticMark(dir);
    if (mark === null) throw new Error(`synthetic data: ${dir} holds real data; generate synthetic data only into a scratch cache (MIDTRAIN_CACHE)`);
    return mark !== undefined && mark.version === SYNTHETIC_VERSION && mark.seed === seed && mark.shapeOf === shape.measuredFrom;
  };
  if (fresh()) return dir;
  await withBuildLock(dir, log, async () => {
    if (fresh()) return;
    const t0 = Date.now();
    try { await generate(preset, dir, shape, seed, log); } finally { fs.rmSync(`${dir}.tmp-${process.pid}`, { recursive: true, force: true }); }
    log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${dir}`);
  });
  return dir;
}

