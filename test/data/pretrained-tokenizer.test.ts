// A Hugging Face tokenizer.json from a local path: ids equal the `tokenizers` library's on real text, for
// both merge forms ("a b" strings and [a, b] pairs) and with added/special tokens; bad files are one line.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPretrainedTokenizer } from '../../src/tokenizer/pretrained';
import { writeFixtures, type Fixtures } from './local-fixtures';

let fx: Fixtures;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-pretok-'));
test.before(() => { fx = writeFixtures(root); });
test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test('ids equal the library on real text, with both merge forms and added tokens', async () => {
  const hf = require('tokenizers') as typeof import('tokenizers');
  const texts = [
    ...fx.prose.slice(0, 60), ...fx.code.slice(0, 30),
    'Hello<|endoftext|>world<|padding|>  two  spaces\n\nparagraph',
    'accents: café naïve, CJK 東京, emoji 🙂, tabs\tand\r\nCRLF',
    '<|endoftext|><|endoftext|>',
    'x.constructor.prototype.toString(); __proto__ hasOwnProperty valueOf constructor', // names a plain object would answer from its prototype
  ];
  for (const file of [fx.tokenizer, fx.tokenizerStrings, fx.tokenizerFull]) {
    const lib = hf.Tokenizer.fromFile(file);
    const ours = loadPretrainedTokenizer(file);
    const expected = (await lib.encodeBatch(texts)).map((e) => e.getIds());
    texts.forEach((t, i) => assert.deepEqual(ours.encode(t), expected[i], `${path.basename(file)}: text ${i} ${JSON.stringify(t.slice(0, 40))}`));
    assert.equal(ours.decode(ours.encode(texts[0])), texts[0]);
  }
  const json = JSON.parse(fs.readFileSync(fx.tokenizer, 'utf8'));
  assert.ok(Array.isArray(json.model.merges[0]), 'the library saves pairs');
  assert.equal(typeof JSON.parse(fs.readFileSync(fx.tokenizerStrings, 'utf8')).model.merges[0], 'string');
  const ours = loadPretrainedTokenizer(fx.tokenizer);
  assert.equal(ours.eosId, json.added_tokens.find((t: { content: string }) => t.content === '<|endoftext|>').id);
  assert.equal(loadPretrainedTokenizer(fx.tokenizer, { padTo: 50304 }).vocabSize, 50304);
});

test('a tokenizer file that does not parse, or that we cannot encode exactly, is refused in one line naming it', () => {
  const bad = path.join(root, 'bad.json');
  fs.writeFileSync(bad, '{"model": {"type": "BPE", "vocab": {');
  assert.throws(() => loadPretrainedTokenizer(bad), (e: Error) => e.message.includes(bad) && /does not parse as JSON/.test(e.message) && !e.message.includes('\n'));
  const json = JSON.parse(fs.readFileSync(fx.tokenizer, 'utf8'));
  const cases: Array<[(j: any) => void, RegExp]> = [
    [(j) => { j.model.type = 'WordPiece'; }, /model\.type is "WordPiece"/],
    [(j) => { j.model.merges[3] = 'a b c'; }, /model\.merges\[3\]/],
    [(j) => { j.pre_tokenizer = { type: 'Metaspace' }; }, /pre_tokenizer\.type/],
    [(j) => { j.normalizer = { type: 'Lowercase' }; }, /normalizer\.type/],
    [(j) => { j.added_tokens[0].lstrip = true; }, /added_tokens\[0\]/],
    [(j) => { j.added_tokens = j.added_tokens.filter((t: any) => t.content !== '<|endoftext|>'); }, /no <\|endoftext\|> token/],
  ];
  for (const [mutate, re] of cases) {
    const j = JSON.parse(JSON.stringify(json));
    mutate(j);
    fs.writeFileSync(bad, JSON.stringify(j));
    assert.throws(() => loadPretrainedTokenizer(bad), (e: Error) => e.message.includes(bad) && re.test(e.message), String(re));
  }
  assert.throws(() => loadPretrainedTokenizer(path.join(root, 'missing.json')), /cannot read .*missing\.json/);
});
