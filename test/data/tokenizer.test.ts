// Byte-level BPE: truncation of the library's 30k model, our encoder against the library, round trips on every role.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROLES } from '../../src/config';
import { ensureData } from '../../src/data/build';
import { sampleFromBundle } from '../../src/data/sample';
import { BpeTokenizer, bytesToUnicode, EOS_TOKEN, serializeTokenizer, trainBpe, truncateBpe } from '../../src/tokenizer/bpe';

test('the byte alphabet is 256 distinct printable characters', () => {
  const m = bytesToUnicode();
  assert.equal(new Set(m).size, 256);
  assert.equal(m[' '.charCodeAt(0)], 'Ġ');
});

test('truncation keeps the byte alphabet + the first merges + EOS, and smaller vocabularies are prefixes of larger ones', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-bpe-'));
  const files = ROLES.map((r) => {
    const f = path.join(dir, `${r}.txt`);
    fs.writeFileSync(f, sampleFromBundle(b, r, 40, 1).join('\n\n'));
    return f;
  });
  const hf = require('tokenizers') as typeof import('tokenizers');
  const tok = new hf.Tokenizer(hf.BPE.empty());
  tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  tok.train(files);
  tok.save(path.join(dir, 'full.json'));
  const full = JSON.parse(fs.readFileSync(path.join(dir, 'full.json'), 'utf8'));
  assert.ok(full.model.merges.length > 2000, `library learned only ${full.model.merges.length} merges`);

  const small = truncateBpe(full, 1024), big = truncateBpe(full, 2048);
  for (const [t, V] of [[small, 1024], [big, 2048]] as const) {
    const ids = Object.values(t.model.vocab).sort((x, y) => x - y);
    assert.equal(ids.length, V - 1, 'every id below EOS is used exactly once');
    assert.deepEqual(ids, Array.from({ length: V - 1 }, (_, i) => i));
    assert.equal(t.added_tokens[0].content, EOS_TOKEN);
    assert.equal(t.added_tokens[0].id, V - 1);
    // Each merge's parts exist before it: byte tokens or results of earlier merges.
    const seen = new Set(bytesToUnicode());
    for (const [x, y] of t.model.merges) { assert.ok(seen.has(x) && seen.has(y), `merge ${x} ${y} out of order`); seen.add(x + y); }
    // The merges are the library's first ones, in its order.
    assert.deepEqual(t.model.merges, full.model.merges.slice(0, t.model.merges.length).map((m: string | string[]) => (typeof m === 'string' ? m.split(' ') : m)));
  }
  for (const [tokStr, id] of Object.entries(small.model.vocab)) assert.equal(big.model.vocab[tokStr], id, `token ${tokStr} has a different id in the larger vocabulary`);

  // Training is deterministic for the same input.
  assert.equal(serializeTokenizer(trainBpe(files, 1024)), serializeTokenizer(small));
  assert.throws(() => truncateBpe(full, full.model.merges.length + 1000), /fewer than the requested/);
  fs.rmSync(dir, { recursive: true });
});

test('a merge that spells an Object.prototype name ("constructor") gets its own id', () => {
  const word = 'constructor';
  const merges: Array<[string, string]> = [];
  for (let i = 2; i <= word.length; i++) merges.push([word.slice(0, i - 1), word[i - 1]]);
  const t = truncateBpe({ model: { merges } }, 'all');
  assert.ok(Object.hasOwn(t.model.vocab, word), 'constructor is in the vocabulary');
  assert.equal(t.model.vocab[word], 256 + merges.length - 1);
  const ids = Object.values(t.model.vocab);
  assert.equal(new Set(ids).size, ids.length);
});

test('our encoder equals the library encoder and decode(encode(x)) = x on documents of every role', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const hf = require('tokenizers') as typeof import('tokenizers');
  const manifest = JSON.parse(fs.readFileSync(path.join(b.dir, 'manifest.json'), 'utf8'));
  const lib = hf.Tokenizer.fromFile(path.join(b.dir, manifest.tokenizer.file));
  for (const role of ROLES) {
    const docs = [...sampleFromBundle(b, role, 8, 3, 'val'), ...sampleFromBundle(b, role, 8, 3, 'train')];
    const encs = await lib.encodeBatch(docs, { addSpecialTokens: false });
    docs.forEach((d, i) => {
      const ours = b.tokenizer.encode(d);
      assert.deepEqual(ours, encs[i].getIds(), `${role} doc ${i}: encoders differ`);
      assert.equal(b.tokenizer.decode(ours), d, `${role} doc ${i}: round trip failed`);
      assert.ok(ours.every((id) => id >= 0 && id < b.tokenizer.eosId));
    });
  }
});

test('round trip on hard strings: unicode, emoji, CJK, combining marks, control and whitespace runs', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const cases = ['', ' ', '\n\n\t  x', 'naïve café — “quotes” ½', '日本語のテキスト', 'emoji 👩‍🔬🚀!', 'e\u0301 combining', 'a\u0000b\u0007', "it's   don't\r\n", ' '.repeat(300) + 'end', EOS_TOKEN];
  for (const c of cases) assert.equal(b.tokenizer.decode(b.tokenizer.encode(c)), c, JSON.stringify(c));
  // EOS text inside a document is ordinary text, never the EOS id.
  assert.ok(!b.tokenizer.encode(EOS_TOKEN).includes(b.tokenizer.eosId));
  assert.equal(b.tokenizer.decode([b.tokenizer.eosId]), EOS_TOKEN);
  assert.throws(() => b.tokenizer.decode([b.tokenizer.vocabSize + 5]), /out of range/);
});

test('a tokenizer can be padded to more rows than it uses (Pythia-style), and loading bad files is a clear error', async () => {
  const b = await ensureData('tiny', { quiet: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(b.dir, 'manifest.json'), 'utf8'));
  const file = path.join(b.dir, manifest.tokenizer.file);
  const padded = BpeTokenizer.load(file, 4096);
  assert.equal(padded.vocabSize, 4096);
  assert.equal(padded.hash, b.tokenizer.hash);
  assert.deepEqual(padded.encode('hello world'), b.tokenizer.encode('hello world'));
  const bad = path.join(os.tmpdir(), 'mt-bad-tokenizer.json');
  fs.writeFileSync(bad, fs.readFileSync(file, 'utf8').slice(0, 100));
  assert.throws(() => BpeTokenizer.load(bad), (e: Error) => e.message.includes(bad));
  fs.rmSync(bad);
});
