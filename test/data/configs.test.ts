// Data configs by name and kind: the built-in npm/Debian corpus is data/configs/{tiny,small,pythia}.json, read
// like any other config, and must give exactly the build keys (and so the data hashes and run ids) that the
// committed manifests record; choosing by name or path, and bad configs, give one line naming file and field.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectRoot, PRESETS } from '../../src/config';
import { buildKey, dataDir } from '../../src/data/build';
import { builtinSizes, dataConfigDir, dataPreset, DEFAULT_DATA_CONFIG, readBuiltinConfig } from '../../src/data/presets';
import { chosenDataConfig, listDataConfigs, resolveDataConfig } from '../../src/data/configs';
import { ensureData, chosenBuiltinManifest } from '../../src/data/ensure';
import { chosenTokenBudget } from '../../src/experiments/budget';
import { writeFixtures } from './local-fixtures';
import { builtinCorpusFile } from '../../src/data/build';
import { ensureLocalData } from '../../src/data/local/build';
import { docOffsets, documentTokens } from '../../src/data/sample';
import { sha256OfFile } from '../../src/data/shards';

test('the built-in data configs give the build keys the committed manifests record (data hashes and run ids kept)', () => {
  for (const preset of PRESETS) {
    const name = DEFAULT_DATA_CONFIG[preset];
    const manifest = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'data', 'manifests', `${name}.json`), 'utf8'));
    assert.equal(buildKey(dataPreset(preset)), manifest.buildKey, `${preset} (data/configs/${name}.json)`);
    assert.equal(dataPreset(preset).dataName, name);
  }
  // A size changed in the JSON changes the key: the file is what the build follows, not a copy in code.
  const small = readBuiltinConfig(path.join(dataConfigDir(), 'small.json'));
  assert.notEqual(buildKey(builtinSizes({ ...small, trainChars: small.trainChars - 1 }, 'small')), buildKey(dataPreset('small')));
});

test('data configs are chosen by name or by path; the names list says what there is', () => {
  const listed = listDataConfigs();
  for (const name of ['tiny', 'small', 'pythia']) assert.ok(listed.some((c) => c.name === name && c.kind === 'builtin'), name);
  assert.deepEqual(listed.find((c) => c.name === 'pythia')!.presets, ['pythia-70m', 'pythia-160m', 'pythia-410m']);
  const small = resolveDataConfig('small');
  assert.deepEqual({ file: small.file, kind: small.kind }, { file: path.join(dataConfigDir(), 'small.json'), kind: 'builtin' });
  assert.equal(resolveDataConfig(path.join(dataConfigDir(), 'small.json')).kind, 'builtin');
  assert.throws(() => resolveDataConfig('smal'), /data config "smal": no .*smal\.json \(named configs: .*pythia, small, tiny/);
  assert.throws(() => resolveDataConfig('/nowhere/c.json'), /data config \/nowhere\/c\.json does not exist/);
  assert.throws(() => resolveDataConfig('a b'), /not a name/);
  assert.throws(() => resolveDataConfig('..'), /not a name/);
  const saved = process.env.MIDTRAIN_DATA_CONFIG;
  try {
    process.env.MIDTRAIN_DATA_CONFIG = 'small';
    assert.equal(chosenDataConfig(), 'small');
    assert.equal(chosenDataConfig({ dataConfig: 'tiny' }), 'tiny');
    assert.equal(chosenTokenBudget('small'), undefined, 'built-in data keeps the preset\'s own steps');
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_DATA_CONFIG; else process.env.MIDTRAIN_DATA_CONFIG = saved;
  }
});

test('a local-files config is found by path with or without "kind": "local"', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-configs-'));
  try {
    const fx = writeFixtures(root);
    assert.equal(resolveDataConfig(fx.config).kind, 'local');
    const raw = JSON.parse(fs.readFileSync(fx.config, 'utf8'));
    const named = path.join(root, 'named.json');
    fs.writeFileSync(named, JSON.stringify({ ...raw, kind: 'local' }));
    assert.equal(resolveDataConfig(named).kind, 'local');
    fs.writeFileSync(named, JSON.stringify({ ...raw, kind: 'remote' }));
    assert.throws(() => resolveDataConfig(named), /named\.json: kind must be "builtin" or "local", got "remote"/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a built-in config of other sizes is its own data set; bad ones fail naming the file and field', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-configs-'));
  const tiny = JSON.parse(fs.readFileSync(path.join(dataConfigDir(), 'tiny.json'), 'utf8'));
  const write = (name: string, edit: (c: Record<string, unknown>) => void): string => {
    const c = structuredClone(tiny);
    edit(c);
    const file = path.join(root, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    return file;
  };
  try {
    const half = readBuiltinConfig(write('tiny-half', (c) => { c.name = 'tiny-half'; c.trainChars = 650_000; }));
    const sizes = builtinSizes(half, 'tiny');
    assert.equal(dataDir('tiny', sizes), path.join(path.dirname(dataDir('tiny')), 'tiny-half'), 'built under its own name');
    assert.notEqual(buildKey(sizes), buildKey(dataPreset('tiny')));
    assert.throws(() => builtinSizes(half, 'small'), /tiny-half\.json is for presets tiny, not small/);
    // Chosen for a preset it is not for: refused before anything is built.
    await assert.rejects(ensureData('small', { dataConfig: path.join(root, 'tiny-half.json'), quiet: true }), /is for presets tiny, not small/);
    const cases: Array<[(c: Record<string, unknown>) => void, RegExp]> = [
      [(c) => { c.trainChar = 1; }, /bad\.json: trainChar is not a known field of a built-in data config/],
      [(c) => { c.vocabSize = 4096; }, /bad\.json: vocabSize 4096 differs from preset tiny's embedding rows \(2048\)/],
      [(c) => { c.presets = ['tiny', 'small']; }, /bad\.json: vocabSize 2048 differs from preset small's/],
      [(c) => { c.presets = ['huge']; }, /bad\.json: presets\[0\] must be one of tiny, small/],
      [(c) => { c.bpeVocabSize = 4096; }, /bad\.json: bpeVocabSize 4096 exceeds vocabSize 2048/],
      [(c) => { c.sft = { train: 10, val: 0, test: 5 }; }, /bad\.json: sft\.val must be a positive integer, got 0/],
      [(c) => { delete c.seed; }, /bad\.json: seed must be an integer/],
      [(c) => { c.name = '..'; }, /bad\.json: name must start with a letter or digit .* \(it names a folder\)/],
    ];
    for (const [edit, want] of cases) assert.throws(() => readBuiltinConfig(write('bad', edit)), want);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('choosing the built-in tiny config by name loads the same data as the default', async () => {
  const byDefault = await ensureData('tiny', { quiet: true });
  const byName = await ensureData('tiny', { quiet: true, dataConfig: 'tiny' });
  assert.equal(byName.manifestHash, byDefault.manifestHash);
  assert.equal(byName.dir, byDefault.dir);
  // The data checks of notebook 01 read the built-in manifest under the choice; a local-files config has none.
  assert.equal(chosenBuiltinManifest('tiny', { dataConfig: 'tiny' })?.manifestHash, byDefault.manifestHash);
  const saved = process.env.MIDTRAIN_DATA_CONFIG;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-configs-'));
  try {
    delete process.env.MIDTRAIN_DATA_CONFIG;
    assert.equal(chosenBuiltinManifest('tiny')?.manifestHash, byDefault.manifestHash);
    assert.equal(chosenBuiltinManifest('tiny', { dataConfig: writeFixtures(root).config }), undefined);
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_DATA_CONFIG; else process.env.MIDTRAIN_DATA_CONFIG = saved;
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a local config can take a role from the built-in corpus: its documents are the corpus\'s, split and filtered by the config', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-configs-'));
  try {
    const fx = writeFixtures(root);
    const raw = JSON.parse(fs.readFileSync(fx.config, 'utf8'));
    // Short documents only (~375 e-mails and speeches), so the test tokenises ~100 kB of the ~30 MB general corpus.
    raw.roles.general = { sources: [{ builtin: 'general', from: 'tiny' }], filters: { maxChars: 400 }, valShare: 0.1 };
    const config = path.join(root, 'mixed.json');
    fs.writeFileSync(config, JSON.stringify(raw));
    const b = await ensureLocalData(config, 'tiny', { quiet: true, workers: 1 });
    const corpus = builtinCorpusFile('general', dataPreset('tiny'));
    const expected = new Set(fs.readFileSync(corpus, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text).filter((t) => t.length <= 400));
    assert.ok(expected.size > 100, `${expected.size} short general documents`);
    const m = JSON.parse(fs.readFileSync(path.join(b.dir, 'manifest.json'), 'utf8'));
    assert.deepEqual(m.roles.general.files.map((f: { name: string }) => f.name), ['builtin:general@tiny']);
    assert.equal(m.roles.general.files[0].sha256, sha256OfFile(corpus), 'the corpus file is hashed into the data like any source file');
    let docs = 0, val = 0;
    for (const split of ['train', 'val'] as const) {
      const shard = b.roles.general[split];
      const off = docOffsets(shard);
      for (let i = 0; i < off.length; i++) assert.ok(expected.has(b.tokenizer.decode(documentTokens(shard, off, i))), `${split} document ${i} is not a short corpus document`);
      docs += off.length;
      if (split === 'val') val = off.length;
    }
    assert.equal(docs, expected.size, 'every short corpus document, once');
    assert.ok(val > 0.05 * docs && val < 0.15 * docs, `val ${val} of ${docs} for valShare 0.1`);
    assert.match(b.roles.general.card.description, /built-in general role's cleaned documents \(as for data config tiny/);
    // A misspelt built-in config is one line naming the field.
    raw.roles.general.sources[0].from = 'tinny';
    fs.writeFileSync(config, JSON.stringify(raw));
    await assert.rejects(ensureLocalData(config, 'tiny', { quiet: true }), /mixed\.json: roles\.general\.sources\[0\]\.from: data config .*tinny\.json: does not exist/);
    raw.roles.general.sources[0] = { builtin: 'maths', from: 'tiny' };
    fs.writeFileSync(config, JSON.stringify(raw));
    await assert.rejects(ensureLocalData(config, 'tiny', { quiet: true }), /roles\.general\.sources\[0\]\.builtin must be a role \(general, code/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
