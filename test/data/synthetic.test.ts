// Synthetic data with a preset's real shapes (src/data/synthetic): the committed shapes describe the committed
// data, a generated bundle has those shapes (vocabulary, every shard's tokens and documents, SFT split sizes
// and token lengths), loads through ensureData, its tasks score a right answer right and a wrong one wrong,
// and it never replaces real data.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot, ROLES, SFT_TASKS } from '../../src/config';
import { ensureData } from '../../src/data/ensure';
import { docOffsets } from '../../src/data/sample';
import { dataPreset } from '../../src/data/presets';
import { CHECKERS } from '../../src/data/sft/checkers';
import { writeSyntheticData } from '../../src/data/synthetic/build';
import { lengthAt, lengthQuantiles, measureDataShape, readDataShape, QUANTILE_STEPS } from '../../src/data/synthetic/shape';
import { syntheticTokenizerJson, syntheticWords, wordCount } from '../../src/data/synthetic/tokenizer';
import { BpeTokenizer } from '../../src/tokenizer/bpe';

const previousCache = process.env.MIDTRAIN_CACHE;
const previousConfig = process.env.MIDTRAIN_DATA_CONFIG;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-synthetic-'));
after(() => {
  if (previousCache === undefined) delete process.env.MIDTRAIN_CACHE; else process.env.MIDTRAIN_CACHE = previousCache;
  if (previousConfig !== undefined) process.env.MIDTRAIN_DATA_CONFIG = previousConfig;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the committed shapes describe the committed data manifests (token and document counts, vocabulary, SFT sizes)', () => {
  for (const preset of ['tiny', 'small'] as const) {
    const shape = readDataShape(preset);
    const m = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'data', 'manifests', `${preset}.json`), 'utf8'));
    assert.equal(shape.measuredFrom, m.manifestHash, `${preset}: the shape was measured on the committed data (re-measure: npm run data -- --preset ${preset})`);
    assert.equal(shape.vocabSize, dataPreset(preset).vocabSize);
    assert.equal(shape.eosId, m.tokenizer.eosId);
    for (const role of ROLES) {
      for (const split of ['train', 'val'] as const) {
        assert.deepEqual(shape.roles[role][split], { tokens: m.roles[role][split].numTokens, docs: m.roles[role][split].numDocs }, `${preset} ${role}.${split}`);
      }
    }
    for (const task of SFT_TASKS) assert.deepEqual(shape.sft[task].sizes, m.sft[task].sizes, `${preset} ${task}`);
    for (const part of Object.keys(m.parts)) assert.equal(shape.parts[part as 'math-natural']?.train.tokens, m.parts[part].train.numTokens, part);
  }
});

test('length quantiles: nearest-rank summary and its inverse', () => {
  const q = lengthQuantiles(Array.from({ length: 101 }, (_, i) => 10 + i));
  assert.equal(q.length, QUANTILE_STEPS + 1);
  assert.deepEqual([q[0], q[10], q[20]], [10, 60, 110]);
  assert.equal(lengthAt(q, 0), 10);
  assert.equal(lengthAt(q, 0.5), 60);
  assert.equal(lengthAt(q, 0.999), 110);
});

test('synthetic tokenizer: the vocabulary asked for, EOS last, every filler word one token', () => {
  const tok = new BpeTokenizer(syntheticTokenizerJson(2048), undefined, 2048);
  assert.equal(tok.vocabSize, 2048);
  assert.equal(tok.eosId, 2047);
  const words = syntheticWords(wordCount(2048));
  const sample = [words[0], words[25], words[26], words[700], words[words.length - 1]];
  for (const w of sample) assert.equal(tok.encode(' ' + w).length, 1, `" ${w}" is one token`);
  assert.equal(tok.encode(' ' + sample.join(' ')).length, sample.length);
  assert.equal(tok.decode(tok.encode(' ' + sample.join(' '))), ' ' + sample.join(' '));
  // "Question", ":", " x", "\n", "Answer", ":": the prompt formats' fixed words are one token each.
  assert.equal(tok.encode('Question: x\nAnswer:').length, 6);
});

test('generated tiny data: the real shapes, loaded by ensureData, answers scored, real data never replaced', async () => {
  process.env.MIDTRAIN_CACHE = dir;
  delete process.env.MIDTRAIN_DATA_CONFIG;
  const want = readDataShape('tiny');
  const out = await writeSyntheticData('tiny');
  const got = measureDataShape(out, 'tiny');
  assert.equal(got.vocabSize, want.vocabSize);
  assert.equal(got.eosId, want.eosId);
  assert.deepEqual(got.roles, want.roles, 'every role shard has the real token and document counts');
  assert.deepEqual(got.parts, want.parts, 'and every part');
  for (const task of SFT_TASKS) {
    assert.deepEqual(got.sft[task].sizes, want.sft[task].sizes, `${task} split sizes`);
    // Token lengths: the median and the 25/75% quantiles within 10% (or 2 tokens) of the real ones.
    for (const kind of ['promptTokens', 'responseTokens'] as const) {
      for (const i of [5, 10, 15]) {
        const g = got.sft[task][kind][i], w = want.sft[task][kind][i];
        assert.ok(Math.abs(g - w) <= Math.max(2, 0.1 * w), `${task} ${kind} quantile ${i * 5}%: ${g} vs real ${w}`);
      }
    }
  }

  const b = await ensureData('tiny', { quiet: true });
  assert.equal(b.dir, out);
  assert.equal(b.tokenizer.vocabSize, dataPreset('tiny').vocabSize);
  assert.match(b.roles.general.card.description, /^SYNTHETIC/);
  // Every shard as read: the real token count, EOS ending each document and nowhere else, the document index.
  const shards = [...ROLES.map((r) => [r, b.roles[r], want.roles[r]] as const), ...Object.entries(b.parts ?? {}).map(([p, s]) => [p, s, want.parts[p as 'math-natural']!] as const)];
  for (const [name, s, shape] of shards) {
    for (const split of ['train', 'val'] as const) {
      const ids = s[split].read(0, s[split].numTokens);
      assert.equal(ids.length, shape[split].tokens, `${name}.${split} tokens`);
      assert.equal(ids.filter((x) => x === b.tokenizer.eosId).length, shape[split].docs, `${name}.${split}: one EOS per document`);
      assert.equal(ids[ids.length - 1], b.tokenizer.eosId);
      const starts = docOffsets(s[split]);
      assert.equal(starts.length, shape[split].docs);
      assert.ok(starts.every((o, i) => o === 0 ? i === 0 : ids[o - 1] === b.tokenizer.eosId), `${name}.${split}: each document starts after an EOS`);
    }
  }
  // The checkers and option scoring see the real formats: the reference answer is right, another is wrong.
  for (const task of ['gsm', 'sciq', 'pycode'] as const) {
    for (const ex of b.sft[task].test.slice(0, 20)) {
      assert.ok(CHECKERS[task](ex.response, ex), `${task} ${ex.id}: its own response is scored correct`);
    }
  }
  const gsm = b.sft.gsm.test[0];
  assert.equal(CHECKERS.gsm(' #### 1000', gsm), false, 'gsm answers are < 1000');
  for (const ex of b.sft.sciq.test.slice(0, 20)) {
    assert.equal(ex.choices?.length, 4);
    assert.equal(ex.choices![ex.answer.charCodeAt(0) - 65], ex.response.slice(4), `${ex.id}: the answer letter names the correct choice`);
    const wrong = 'ABCD'.replace(ex.answer, '')[0];
    assert.equal(CHECKERS.sciq(` ${wrong}.`, ex), false);
  }

  // Idempotent, and it refuses to replace data that is not synthetic.
  const mtime = fs.statSync(path.join(out, 'manifest.json')).mtimeMs;
  await writeSyntheticData('tiny');
  assert.equal(fs.statSync(path.join(out, 'manifest.json')).mtimeMs, mtime, 'a second call reuses the generated data');
  const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  delete m.synthetic;
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(writeSyntheticData('tiny'), /holds real data/);
});
