// ensureData: every role has real text, splits are disjoint, loading is idempotent, and a rebuild from a
// clean cache is byte-identical. The rebuild reuses the fetched source archives (network is not the point)
// by linking <clean cache>/sources to the warm cache's; corpora, tokenizer, shards and tasks are rebuilt.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { cacheRoot, ROLES } from '../../src/config';
import { ensureData, readManifest } from '../../src/data/build';
import { sampleDocuments, sampleFromBundle, docOffsets, documentTokens } from '../../src/data/sample';
import { fetchSource, SOURCES } from '../../src/data/sources';
import { gutenbergDocs } from '../../src/data/extract/general';
import { loadWordnet } from '../../src/data/extract/wordnet';
import { LeakIndex, sciqHeldOutProbes } from '../../src/data/leaks';
import { dataPreset } from '../../src/data/presets';
import type { DataBundle, TokenShard } from '../../src/data/types';
import { FileTokenShard } from '../../src/data/shards';
import { proximityTable } from '../../src/data/proximity';

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else out[r] = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  walk('');
  return out;
}

test('every role has train and val text of the expected size, decoded documents look like text', async () => {
  const b = await ensureData('tiny', { quiet: true });
  for (const role of ROLES) {
    const r = b.roles[role];
    assert.equal(r.card.tokens.train, r.train.numTokens);
    assert.ok(r.train.numTokens > 200_000 && r.val.numTokens > 20_000, `${role}: ${r.train.numTokens}/${r.val.numTokens} tokens`);
    assert.ok(r.card.sources.length > 0 && r.card.sources.every((s) => /^[0-9a-f]{64}$/.test(s.sha256) && s.licence.length > 0));
    const docs = sampleFromBundle(b, role, 5, 0);
    assert.equal(docs.length, 5);
    for (const d of docs) assert.ok(d.length > 50 && /[a-z]{3}/.test(d), `${role}: odd document ${JSON.stringify(d.slice(0, 80))}`);
    // Train and val are disjoint by document.
    const val = new Set(sampleFromBundle(b, role, 1000, 0, 'val'));
    assert.ok(!sampleFromBundle(b, role, 1000, 0, 'train').some((d) => val.has(d)), `${role}: a val document is also in train`);
    assert.equal(docOffsets(r.train).length, r.card.documents.train);
  }
  assert.equal((await sampleDocuments('tiny', 'code', 5, 1)).length, 5);
});

test('the proximity table puts each specialised role nearest its task', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const rows = proximityTable(b);
  const nearest = (task: string) => rows.filter((r) => r.task === task && r.kind === 'role').sort((x, y) => x.dist - y.dist)[0].source;
  assert.equal(nearest('pycode'), 'code');
  assert.equal(nearest('gsm'), 'math');
  for (const r of rows) if (r.source === 'general') assert.equal(r.advantage, 0);
  assert.equal(rows.length, 4 * (ROLES.length + 5));
});

function allDocuments(b: DataBundle, shard: TokenShard): string[] {
  const off = docOffsets(shard);
  return Array.from(off.keys(), (i) => b.tokenizer.decode(documentTokens(shard, off, i)));
}

test('built data: no Gutenberg book in both splits, no held-out sciq item leaked, math parts partition the math role', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const m = readManifest('tiny');
  // Books: decoded documents (the BPE is lossless) matched to the book they were cut from.
  const bookOf = new Map(gutenbergDocs(fetchSource(SOURCES.gutenberg)).map((d) => [d.text, d.group!]));
  const books = (split: 'train' | 'val') => new Set(allDocuments(b, b.roles.general[split]).map((t) => bookOf.get(t)).filter((x): x is string => !!x));
  const val = books('val'), train = books('train');
  assert.equal(m.roles.general.sourcesBySplit.train.gutenberg > 0 ? train.size > 0 : true, true);
  assert.deepEqual([...val].filter((x) => train.has(x)), [], 'a book in both splits');
  // Leaks: the kept knowledge and instruction documents, decoded, state no held-out item's definition with its term.
  const index = new LeakIndex(sciqHeldOutProbes(loadWordnet(fetchSource(SOURCES.wordnet)), dataPreset('tiny').seed));
  for (const role of ['knowledge', 'instruction'] as const) {
    for (const split of ['train', 'val'] as const) {
      const leaking = allDocuments(b, b.roles[role][split]).filter((t) => index.leaks(t).length > 0);
      assert.equal(leaking.length, 0, `${role}.${split}: ${leaking.length} documents leak held-out sciq items`);
    }
  }
  assert.ok(m.roles.knowledge.cleaning.sciqLeakDocsRemoved > 0, 'the whole knowledge corpus had leaking documents (GCIDE carries WordNet glosses)');
  // Parts: the math role's documents, split by source, in the same order (so token counts add up exactly).
  const parts = m.parts!;
  for (const split of ['train', 'val'] as const) {
    assert.equal(parts['math-natural'][split].numTokens + parts['math-synthetic'][split].numTokens, m.roles.math[split].numTokens);
    assert.equal(parts['math-natural'][split].numDocs + parts['math-synthetic'][split].numDocs, m.roles.math[split].numDocs);
    assert.equal(parts['math-natural'].sourcesBySplit[split].synthetic, undefined);
  }
  assert.deepEqual(Object.keys(parts['math-synthetic'].sourcesBySplit.train), ['synthetic']);
  assert.ok(b.parts!['math-natural']!.train.read(0, 8).length === 8);
});

test('ensureData is idempotent: a second call loads the same bundle without rewriting files', async () => {
  const a = await ensureData('tiny', { quiet: true });
  const before = hashTree(a.dir);
  const mtime = fs.statSync(path.join(a.dir, 'manifest.json')).mtimeMs;
  const b = await ensureData('tiny', { quiet: true });
  assert.equal(b.manifestHash, a.manifestHash);
  assert.equal(fs.statSync(path.join(b.dir, 'manifest.json')).mtimeMs, mtime);
  assert.deepEqual(hashTree(b.dir), before);
});

test('a truncated or corrupt built shard is reported by ensureData naming the file', async () => {
  const warm = await ensureData('tiny', { quiet: true });
  for (const damage of ['truncate', 'flip'] as const) {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-corrupt-'));
    fs.cpSync(warm.dir, path.join(cache, 'data', 'tiny'), { recursive: true });
    const shard = path.join(cache, 'data', 'tiny', 'shards', 'general.val.bin');
    if (damage === 'truncate') fs.truncateSync(shard, 1001);
    else { const b = fs.readFileSync(shard); b[10] ^= 1; fs.writeFileSync(shard, b); }
    const saved = process.env.MIDTRAIN_CACHE;
    process.env.MIDTRAIN_CACHE = cache;
    try {
      await assert.rejects(ensureData('tiny', { quiet: true }), (e: Error) => e.message.includes(shard) && /truncated|corrupt/.test(e.message));
    } finally {
      if (saved === undefined) delete process.env.MIDTRAIN_CACHE; else process.env.MIDTRAIN_CACHE = saved;
      fs.rmSync(cache, { recursive: true, force: true });
    }
  }
  // The shard class itself, on a copy: size is checked on open.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-corrupt-'));
  const copy = path.join(dir, 'general.val.bin');
  fs.copyFileSync(warm.roles.general.val.path, copy);
  fs.truncateSync(copy, 1001);
  assert.throws(() => new FileTokenShard({ ...(warm.roles.general.val as FileTokenShard).index }, copy), (e: Error) => e.message.includes(copy));
  fs.rmSync(dir, { recursive: true });
});

test('rebuilding tiny from a clean cache gives byte-identical data', async () => {
  const warm = await ensureData('tiny', { quiet: true });
  const warmSources = path.join(cacheRoot(), 'sources');
  const clean = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-clean-cache-'));
  fs.symlinkSync(warmSources, path.join(clean, 'sources'));
  const saved = process.env.MIDTRAIN_CACHE;
  process.env.MIDTRAIN_CACHE = clean;
  try {
    const rebuilt = await ensureData('tiny', { quiet: true });
    assert.equal(rebuilt.dir, path.join(clean, 'data', 'tiny'));
    assert.ok(!fs.existsSync(path.join(clean, 'corpus')) || fs.readdirSync(path.join(clean, 'corpus')).length > 0);
    assert.deepEqual(hashTree(rebuilt.dir), hashTree(warm.dir));
    assert.equal(rebuilt.manifestHash, warm.manifestHash);
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_CACHE; else process.env.MIDTRAIN_CACHE = saved;
    fs.rmSync(clean, { recursive: true, force: true });
  }
});
