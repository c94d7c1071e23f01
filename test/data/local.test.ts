// Data configs of local files: fixture files in every format (C4 json.gz, StarCoder Parquet, OpenMathInstruct
// Parquet, FLAN JSON Lines, a text folder, DCLM jsonl.zst; GSM8K/SciQ Parquet, CodeSearchNet jsonl.gz, LIMA
// JSON Lines) build shards and SFT tasks; the documents in the shards are the files' documents; a killed
// build resumes to byte-identical shards; 32-bit shards; bad input is one line and nothing is published.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawn } from 'child_process';
import { ensureLocalData, localDataDir, type LocalDataManifest } from '../../src/data/local/build';
import { loadDataConfig } from '../../src/data/local/config';
import { sha256OfFile } from '../../src/data/shards';
import { docOffsets, documentTokens } from '../../src/data/sample';
import { CHECKERS } from '../../src/data/sft/checkers';
import { runId } from '../../src/runs/store';
import { SFT_TASKS, ROLES } from '../../src/config';
import { writeFixtures, type Fixtures } from './local-fixtures';
import { scaleFor } from '../../src/experiments/scale';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-local-'));
const savedCache = process.env.MIDTRAIN_CACHE;
let fx: Fixtures;
test.before(() => {
  process.env.MIDTRAIN_CACHE = path.join(root, 'cache');
  fx = writeFixtures(path.join(root, 'files'));
});
test.after(() => {
  if (savedCache === undefined) delete process.env.MIDTRAIN_CACHE; else process.env.MIDTRAIN_CACHE = savedCache;
  fs.rmSync(root, { recursive: true, force: true });
});

/** A copy of the fixture config with a change, written beside the files (so relative globs still resolve). */
function variant(name: string, change: (c: any) => void): string {
  const c = JSON.parse(fs.readFileSync(fx.config, 'utf8'));
  change(c);
  const file = path.join(fx.dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

function shardHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(dir, 'shards')).sort()) out[f] = sha256OfFile(path.join(dir, 'shards', f));
  for (const f of fs.readdirSync(path.join(dir, 'sft')).sort()) out[`sft/${f}`] = sha256OfFile(path.join(dir, 'sft', f));
  return out;
}

test('a data config is validated with one line naming the file and the field', () => {
  const cases: Array<[(c: any) => void, RegExp]> = [
    [(c) => { c.roles.code.sources[0].format = 'csv'; }, /roles\.code\.sources\[0\]\.format must be one of jsonl, jsonl\.gz, jsonl\.zst, parquet, text/],
    [(c) => { delete c.roles.math; }, /roles\.math is missing/],
    [(c) => { c.roles.general.valShare = 0.7; }, /roles\.general\.valShare must be a number in \[0, 0\.5\)/],
    [(c) => { c.roles.general.sources[0].template = '{text}'; }, /roles\.general\.sources\[0\] needs exactly one of "text"/],
    [(c) => { c.roles.general.filters.dedup = 'fuzzy'; }, /roles\.general\.filters\.dedup must be "exact" or "off"/],
    [(c) => { c.sft.gsm.kind = 'sciq'; }, /sft\.gsm\.kind must be "gsm8k"/],
    [(c) => { c.preset = 'huge'; }, /preset must be one of tiny/],
    [(c) => { c.tokenizr = {}; }, /tokenizr is not a known field/],
    [(c) => { c.name = 'a b'; }, /name must use letters/],
  ];
  for (const [change, re] of cases) {
    const file = variant('bad-config', change);
    assert.throws(() => loadDataConfig(file), (e: Error) => e.message.startsWith(`data config ${file}: `) && re.test(e.message) && !e.message.includes('\n'), String(re));
  }
  const wrongGlob = variant('bad-glob', (c) => { c.roles.code.sources[0].glob = 'starcoderdata/pyhton/*.parquet'; });
  assert.throws(() => localDataDir(wrongGlob), (e: Error) => e.message.includes(wrongGlob) && /roles\.code\.sources\[0\]\.glob "starcoderdata\/pyhton\/\*\.parquet" matches no files/.test(e.message));
});

let built: Awaited<ReturnType<typeof ensureLocalData>>;

test('fixture files in every format build shards whose documents are the files\' documents, and SFT tasks the checkers accept', async () => {
  built = await ensureLocalData(fx.config, 'tiny', { quiet: true, workers: 2 });
  const m = JSON.parse(fs.readFileSync(path.join(built.dir, 'manifest.json'), 'utf8')) as LocalDataManifest;
  assert.equal(built.manifestHash, m.manifestHash);
  assert.equal(built.tokenizer.vocabSize, 2048);
  // Every document of every split decodes to a document of the source files (the general role: prose paragraphs).
  const prose = new Set(fx.prose);
  for (const split of ['train', 'val'] as const) {
    const shard = built.roles.general[split];
    const off = docOffsets(shard);
    assert.equal(off.length, m.roles.general[split].numDocs);
    for (let i = 0; i < off.length; i++) assert.ok(prose.has(built.tokenizer.decode(documentTokens(shard, off, i))), `general ${split} doc ${i}`);
  }
  // 20 documents of the first C4 file repeat in the second: exactly those are removed; val holds ~10%.
  assert.equal(m.roles.general.cleaning.exactDuplicatesRemoved, 20);
  const general = new Set(fx.prose.filter((p) => p.length >= 40));
  assert.equal(m.roles.general.train.numDocs + m.roles.general.val.numDocs, general.size);
  for (const role of ROLES) {
    const r = m.roles[role];
    const share = r.val.numDocs / (r.train.numDocs + r.val.numDocs);
    assert.ok(share > 0.02 && share < 0.25, `${role}: val share ${share}`);
    // Every source file is recorded with its size and sha256.
    for (const f of r.files) assert.equal(f.sha256, sha256OfFile(path.join(fx.dir, f.name)), f.name);
    assert.ok(r.files.length >= 1);
  }
  assert.equal(m.roles.knowledge.files.length, fs.readdirSync(path.join(fx.dir, 'knowledge')).length);
  // The template was applied (math: question + solution) and the maxChars filter ran (web-quality).
  const mathDoc = built.tokenizer.decode(documentTokens(built.roles.math.train, docOffsets(built.roles.math.train), 0));
  assert.match(mathDoc, /^Question: A shop packs .*\nSolution: The boxes hold .*#### [\d,]+$/s);
  assert.ok(m.roles['web-quality'].cleaning.tooLong > 0);
  // SFT: each reference response passes its task's checker; a wrong one fails it.
  for (const task of SFT_TASKS) {
    const t = built.sft[task];
    assert.ok(t.train.length > 0 && t.val.length > 0 && t.test.length > 0, task);
    for (const ex of [...t.train.slice(0, 20), ...t.test.slice(0, 20)]) assert.ok(CHECKERS[task](ex.response, ex), `${task} ${ex.id}`);
  }
  assert.equal(built.sft.gsm.test.length, 60); // GSM8K's own test file
  assert.equal(built.sft.sciq.val.length, 50); // SciQ's own validation file
  const gsm = built.sft.gsm.train[0];
  assert.ok(!CHECKERS.gsm(gsm.response.replace(/#### [\d,]+/, '#### 1'), gsm));
  const sciq = built.sft.sciq.test[0];
  assert.ok(!CHECKERS.sciq(` ${'ABCD'.replace(sciq.answer, '')[0]}.`, sciq));
  // LIMA: one example per answer; a second exchange carries the first as context, in the same split.
  const lima = [...built.sft.lima.train.map((e) => ['train', e] as const), ...built.sft.lima.val.map((e) => ['val', e] as const), ...built.sft.lima.test.map((e) => ['test', e] as const)];
  const seconds = lima.filter(([, e]) => e.id.endsWith('.t1'));
  assert.ok(seconds.length >= 2, `second exchanges kept: ${seconds.length} (most do not fit the tiny context with the first as context)`);
  let paired = 0;
  for (const [split, e] of seconds) {
    const i = Number(/#(\d+)\.t1$/.exec(e.id)![1]);
    assert.equal(e.prompt, `Question: What does this passage say (${i})?\nAnswer: ${fx.prose[i]}\nQuestion: And in a few words?\nAnswer:`);
    assert.equal(e.response, ` ${fx.prose[i].split(' ').slice(0, 6).join(' ')}`);
    const first = lima.find(([, f]) => f.id === e.id.slice(0, -3));
    if (first) { paired++; assert.equal(first[0], split, `${e.id}: the conversation's examples share a split`); }
  }
  assert.ok(paired >= 1, 'some conversation keeps both exchanges');
  assert.ok(!lima.some(([, e]) => /Anything else\?\nAnswer:$/.test(e.prompt)), 'an unanswered last question makes no example');
  // Letters are balanced (the correct option's position is hashed, not always A).
  const letters = new Set(built.sft.sciq.train.map((e) => e.answer));
  assert.equal(letters.size, 4);
});

test('the data hash is the config\'s: run ids change with its content, not with where it lives', async () => {
  const cfg = { kind: 'pretrain', name: 'x', preset: 'tiny' } as unknown as Parameters<typeof runId>[0];
  const moved = path.join(root, 'moved');
  fs.cpSync(fx.dir, moved, { recursive: true, preserveTimestamps: true });
  const same = await ensureLocalData(path.join(moved, 'data-config.json'), 'tiny', { quiet: true, workers: 0 });
  assert.equal(same.manifestHash, built.manifestHash);
  const other = await ensureLocalData(variant('val-share', (c) => { c.roles.code.valShare = 0.2; }), 'tiny', { quiet: true, workers: 0 });
  assert.notEqual(other.manifestHash, built.manifestHash);
  assert.notEqual(runId(cfg, other.manifestHash), runId(cfg, built.manifestHash));
  await assert.rejects(ensureLocalData(fx.config, 'small', { quiet: true }), /is for preset tiny, not small/);
});

test('a build killed midway resumes per file and finishes with byte-identical shards', async () => {
  const file = variant('resume', (c) => { c.name = 'resume'; });
  const dir = localDataDir(file);
  const work = `${dir}.work`;
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(path.resolve(__dirname, '../../src/data/local/build.js'))}).ensureLocalData(${JSON.stringify(file)}, 'tiny', { quiet: true, workers: 1 })`],
    { env: { ...process.env }, stdio: 'ignore' });
  const countDone = () => ROLES.reduce((n, r) => { try { return n + fs.readdirSync(path.join(work, r)).filter((f) => f.endsWith('.done.json')).length; } catch { return n; } }, 0);
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (countDone() >= 20) { clearInterval(poll); child.kill('SIGKILL'); resolve(); }
    }, 5);
    child.on('exit', () => { clearInterval(poll); reject(new Error('the build finished before it could be killed')); });
  });
  await new Promise((r) => child.once('exit', r));
  assert.equal(fs.existsSync(path.join(dir, 'manifest.json')), false, 'nothing published by a killed build');
  const doneBefore = countDone();
  assert.ok(doneBefore >= 20);
  const progress: number[] = [];
  const resumed = await ensureLocalData(file, 'tiny', { quiet: true, workers: 1, onProgress: (p) => progress.push(p.totalFiles) });
  const total = ROLES.reduce((n, r) => n + JSON.parse(fs.readFileSync(path.join(resumed.dir, 'manifest.json'), 'utf8')).roles[r].files.length, 0);
  assert.ok(progress.length > 0 && progress[0] <= total - doneBefore, `resumed ${progress[0]} of ${total} files after ${doneBefore} were done`);
  assert.deepEqual(shardHashes(resumed.dir), shardHashes(built.dir));
  assert.equal(fs.existsSync(work), false);
});

test('uint32 shards (a vocabulary padded past 65,536) hold the same ids as uint16 ones', async () => {
  const wide = await ensureLocalData(variant('wide', (c) => { c.name = 'wide'; c.tokenizer.padTo = 70_000; }), 'tiny', { quiet: true, workers: 0 });
  assert.equal(wide.tokenizer.vocabSize, 70_000);
  const a = built.roles.code.val, b = wide.roles.code.val;
  assert.equal((b as any).bytesPerToken, 4);
  assert.equal(b.numTokens, a.numTokens);
  assert.deepEqual([...b.read(0, a.numTokens)], [...a.read(0, a.numTokens)]);
});

test('bad input: one line naming the file and line or row group, and nothing published', async () => {
  const bad = path.join(root, 'bad');
  fs.cpSync(fx.dir, bad, { recursive: true });
  const cfgFile = path.join(bad, 'data-config.json');
  const expectFailure = async (re: RegExp, what: string) => {
    const dir = localDataDir(cfgFile);
    await assert.rejects(ensureLocalData(cfgFile, 'tiny', { quiet: true, workers: 1 }), (e: Error) => re.test(e.message) && !e.message.includes('\n'), what);
    assert.equal(fs.existsSync(dir), false, `${what}: nothing published`);
    assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(path.basename(dir)) && f.includes('.tmp-')), [], `${what}: no temp folder left`);
  };
  // A malformed line in C4's json.gz.
  const c4 = path.join(bad, 'c4/en/c4-train.00001-of-00002.json.gz');
  const good = fs.readFileSync(c4);
  const lines = zlib.gunzipSync(good).toString().split('\n');
  lines[2] = '{"text": "unterminated';
  fs.writeFileSync(c4, zlib.gzipSync(lines.join('\n')));
  await expectFailure(new RegExp(`${c4.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 3: not valid JSON`), 'malformed line');
  // A record without the text field.
  lines[2] = JSON.stringify({ txt: 'no text field' });
  fs.writeFileSync(c4, zlib.gzipSync(lines.join('\n')));
  await expectFailure(/c4-train\.00001-of-00002\.json\.gz line 3: has no field "text"/, 'missing field');
  fs.writeFileSync(c4, good);
  // An unreadable Parquet page: the page header of the second row group's column chunk overwritten.
  const pq = path.join(bad, 'starcoderdata/python/train-00001-of-00002.parquet');
  const hp = require('hyparquet') as typeof import('hyparquet') & { asyncBufferFromFile(f: string): Promise<import('hyparquet').AsyncBuffer> };
  const meta = await hp.parquetMetadataAsync(await hp.asyncBufferFromFile(pq));
  const col = meta.row_groups[1].columns[0].meta_data!;
  const buf = fs.readFileSync(pq);
  const at = Number(col.dictionary_page_offset ?? col.data_page_offset); // the column chunk's first page header
  buf.fill(0xff, at, at + 24);
  fs.writeFileSync(pq, buf);
  await expectFailure(/train-00001-of-00002\.parquet row group 1: cannot be read/, 'corrupt parquet page');
  // A truncated zstd stream.
  const zst = path.join(bad, 'dclm/shard_00000000_processed.jsonl.zst');
  fs.writeFileSync(pq, fs.readFileSync(path.join(fx.dir, 'starcoderdata/python/train-00001-of-00002.parquet')));
  fs.truncateSync(zst, Math.floor(fs.statSync(zst).size / 2));
  await expectFailure(/shard_00000000_processed\.jsonl\.zst: zstd stream is truncated|shard_00000000_processed\.jsonl\.zst line \d+: not valid JSON/, 'truncated zstd');
  // A tokenizer file that does not parse.
  fs.writeFileSync(path.join(bad, 'tokenizer/tokenizer.json'), '{"model":');
  await assert.rejects(ensureLocalData(cfgFile, 'tiny', { quiet: true }), (e: Error) => /tokenizer: .*tokenizer\.json does not parse as JSON/.test(e.message));
});

test('a token budget in the data config sizes the preset: steps = tokens / (batch × context), fractions unchanged', () => {
  const saved = process.env.MIDTRAIN_DATA_CONFIG;
  try {
    const base = scaleFor('pythia-70m');
    process.env.MIDTRAIN_DATA_CONFIG = variant('budget', (c) => { c.preset = 'pythia-70m'; c.tokenBudget = 1_000_000_000; });
    const s = scaleFor('pythia-70m');
    assert.equal(s.pretrain.totalSteps, Math.round(1e9 / (1024 * 2048))); // Pythia-70M on 1B tokens: 477 steps
    const evals = (x: typeof s) => x.pretrain.totalSteps / x.pretrain.evalEvery;
    assert.ok(Math.abs(evals(s) - evals(base)) / evals(base) < 0.1, `about as many evaluations: ${evals(s)} vs ${evals(base)}`);
    assert.deepEqual(s.grid, base.grid);
    assert.match(s.reductions.at(-1)!, /Token budget 1,000,000,000/);
    assert.deepEqual(scaleFor('tiny'), (delete process.env.MIDTRAIN_DATA_CONFIG, scaleFor('tiny'))); // other presets untouched
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_DATA_CONFIG; else process.env.MIDTRAIN_DATA_CONFIG = saved;
  }
});
