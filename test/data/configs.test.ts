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
import { ensureData } from '../../src/data/ensure';
import { chosenTokenBudget } from '../../src/experiments/budget';
import { writeFixtures } from './local-fixtures';

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
  assert.deepEqual(resolveDataConfig('small'), { file: path.join(dataConfigDir(), 'small.json'), kind: 'builtin' });
  assert.equal(resolveDataConfig(path.join(dataConfigDir(), 'small.json')).kind, 'builtin');
  assert.throws(() => resolveDataConfig('smal'), /data config "smal": no .*smal\.json \(named configs: .*pythia, small, tiny/);
  assert.throws(() => resolveDataConfig('/nowhere/c.json'), /data config \/nowhere\/c\.json does not exist/);
  assert.throws(() => resolveDataConfig('a b'), /not a name/);
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
});
