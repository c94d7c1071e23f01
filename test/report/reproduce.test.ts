// Reproducing a report's numbers from its runs.json alone: a tiny study (baseline, one midtraining branch, SFT
// of each) is trained and recorded the way notebooks record it, then a pretraining run, the branch and an SFT
// child are re-trained in a fresh scratch store and must come back bit-identical with the same ids; a changed
// recorded number must make the comparison fail naming it. Plus the pure parts: tolerance policy, runs.json checks.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheRoot } from '../../src/config';
import { runExperiment } from '../../src/experiments/run';
import type { Experiment } from '../../src/experiments/definitions';
import { recordRuns, type RunEntry } from '../../src/report/artifacts';
import { compareSummaries, readReportRuns, reproduceReport, reproduceTolerance, selectRuns, staleness, describeFailures, withAncestors, TOLERANCE } from '../../src/report/reproduce';
import { codeVersion, runId } from '../../src/runs/store';
import { validateRunConfig } from '../../src/runs/validate';
import { ensureData } from '../../src/data';

const realCache = cacheRoot();
const previousCache = process.env.MIDTRAIN_CACHE;
let work: string;
let reportDir: string;

/** The smallest study with every kind of run: the baseline, one midtraining branch, and SFT of both on one task. */
const mini: Experiment = {
  name: 'midtraining', title: 'reproduce test', question: 'do the numbers come back?',
  branches: [{ role: 'code', weight: 0.2, startFraction: 0.1 }], sftTasks: ['pycode'], notes: [],
};
const SFT_CHILD = 'tiny/sft-pycode-code-w20-f10-lr0.001-s0';

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-reproduce-test-'));
  // The original runs train in a store of their own; the data is the real cache's (built once, shared).
  fs.mkdirSync(path.join(work, 'cache'));
  for (const e of ['data', 'corpus', 'sources', 'lavapipe']) if (fs.existsSync(path.join(realCache, e))) fs.symlinkSync(path.join(realCache, e), path.join(work, 'cache', e));
  process.env.MIDTRAIN_CACHE = path.join(work, 'cache');
  reportDir = path.join(work, 'report');
  fs.mkdirSync(reportDir);
  const result = await runExperiment(mini, 'tiny', { quiet: true });
  recordRuns(reportDir, [result]);
});

after(() => {
  if (previousCache === undefined) delete process.env.MIDTRAIN_CACHE;
  else process.env.MIDTRAIN_CACHE = previousCache;
  fs.rmSync(work, { recursive: true, force: true });
});

test('a pretraining run, a branch and an SFT child come back identical, with their ids, from runs.json alone', async () => {
  const { runs } = readReportRuns(reportDir);
  assert.equal(Object.keys(runs).length, 4);
  const result = await reproduceReport(reportDir, [SFT_CHILD], { quiet: true });
  assert.deepEqual(result.runs.map((r) => r.name), ['tiny/baseline', 'tiny/code-w20-f10', SFT_CHILD], 'ancestors first');
  for (const r of result.runs) {
    assert.equal(r.reproducedId, r.id, `${r.name}: same id`);
    assert.equal(r.stepsTrained, r.stepsExpected, `${r.name}: trained in the scratch store`);
    assert.ok(r.stepsTrained > 0);
    assert.equal(r.tolerance.abs, 0, `${r.name}: same backend and machine → exact (${r.tolerance.why})`);
  }
  assert.equal(result.runs[1].stepsTrained, 27, 'the branch trains from its start (10% of 30 steps) to the end');
  assert.ok(result.rows.some((r) => r.run === SFT_CHILD && r.metric === 'finalVal.sft'));
  assert.ok(result.rows.some((r) => r.run === 'tiny/baseline' && r.metric === 'finalVal.code'));
  for (const row of result.rows) assert.equal(row.reproduced, row.committed, `${row.run} ${row.metric}`);
  assert.ok(result.ok);
  assert.equal(fs.existsSync(result.scratch), false, 'the scratch store is removed');
  assert.equal(process.env.MIDTRAIN_CACHE, path.join(work, 'cache'), 'the caller’s cache is put back');
});

test('every config in runs.json gets its recorded id back, as `midtrain run <config>` computes it', async () => {
  const { runs } = readReportRuns(reportDir);
  const { manifestHash } = await ensureData('tiny', { quiet: true });
  for (const [id, r] of Object.entries(runs)) {
    assert.equal(r.dataHash, manifestHash, `${r.name}: recorded under the data manifest hash itself (no data view)`);
    assert.equal(runId(validateRunConfig(JSON.parse(JSON.stringify(r.config)), r.name), manifestHash), id, r.name);
  }
});

test('a changed recorded number makes reproduce fail, naming the run and the number', async () => {
  const { runs } = readReportRuns(reportDir);
  const baseId = Object.keys(runs).find((id) => runs[id].name === 'tiny/baseline')!;
  runs[baseId].summary!.finalVal.general! += 1e-6;
  const file = path.join(work, 'changed-runs.json');
  fs.writeFileSync(file, JSON.stringify(runs));
  const result = await reproduceReport(file, ['baseline'], { quiet: true });
  assert.equal(result.ok, false);
  const failures = describeFailures(result);
  assert.equal(failures.length, 1, failures.join('\n'));
  assert.match(failures[0], /^tiny\/baseline finalVal\.general: committed /);
});

test('tolerance: exact on the same CPU backend and machine class, measured bounds elsewhere', () => {
  const here = { backend: 'native', backendDetail: 'native C++ kernels (avx512, OpenBLAS SkylakeX, 1 threads)', machine: 'AMD EPYC (x64)' };
  assert.equal(reproduceTolerance(here, here).abs, 0);
  assert.equal(reproduceTolerance(here, { ...here, machine: 'Intel Xeon (x64)' }).abs, TOLERANCE.sameBackend);
  assert.equal(reproduceTolerance(here, { ...here, backendDetail: 'native C++ kernels (avx2, OpenBLAS Haswell, 1 threads)' }).abs, TOLERANCE.sameBackend);
  assert.equal(reproduceTolerance({ backend: 'native' }, here).abs, TOLERANCE.sameBackend, 'an old report without the machine class');
  assert.equal(reproduceTolerance(here, { ...here, backend: 'wasm' }).abs, TOLERANCE.otherCpuBackend);
  assert.equal(reproduceTolerance({ ...here, backend: 'webgpu' }, { ...here, backend: 'webgpu' }).abs, TOLERANCE.gpu, 'GPU: never exact');
  assert.equal(reproduceTolerance(here, { ...here, backend: 'tensorflow' }).abs, TOLERANCE.gpu);
  const rows = compareSummaries('r', { finalVal: { sft: 1, general: 2 }, accuracy: 0.5, wallSeconds: 3, tokensPerSec: 4, backend: 'native' }, { finalVal: { sft: 1 + 5e-5, general: 2 + 2e-4 }, wallSeconds: 9, tokensPerSec: 9, backend: 'native' }, { abs: 1e-4, why: '' });
  assert.deepEqual(rows.map((r) => [r.metric, r.ok]).sort(), [['accuracy', false], ['finalVal.general', false], ['finalVal.sft', true]], 'a number missing from the reproduction fails; timings are not compared');
});

test('runs.json: malformed files and unknown names fail with one line naming them', () => {
  const { runs } = readReportRuns(reportDir);
  const write = (name: string, v: unknown) => {
    const f = path.join(work, name);
    fs.writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
    return f;
  };
  assert.throws(() => readReportRuns(write('torn.json', '{"a":')), /torn\.json: not valid JSON/);
  const id = Object.keys(runs)[0];
  assert.throws(() => readReportRuns(write('nosummary.json', { [id]: { ...runs[id], summary: undefined } })), new RegExp(`run ${id}\\.summary\\.finalVal: missing`));
  assert.throws(() => readReportRuns(write('nan.json', { [id]: { ...runs[id], summary: { ...runs[id].summary, finalVal: { general: 'x' } } } })), /summary\.finalVal\.general: expected a finite number, got "x"/);
  const child = Object.keys(runs).find((k) => runs[k].config.parent)!;
  assert.throws(() => readReportRuns(write('orphan.json', { [child]: runs[child] })), /config\.parent\.runId: .* is not in orphan\.json/);
  assert.throws(() => selectRuns(runs, ['nope'], 'r.json'), /r\.json has no run with id or name "nope"/);
  assert.throws(() => selectRuns(runs, ['sft-pycode'], 'r.json'), /has no run/);
  assert.deepEqual(withAncestors(runs, selectRuns(runs, [SFT_CHILD], 'r')).map((i) => runs[i].name), ['tiny/baseline', 'tiny/code-w20-f10', SFT_CHILD]);
});

test('staleness: a report made by another engine or with an older config shape is named stale, with the reason', () => {
  const { runs } = readReportRuns(reportDir);
  const [id, entry] = Object.entries(runs).find(([, r]) => r.kind === 'sft')! as [string, RunEntry];
  assert.equal(staleness(id, entry), undefined);
  assert.match(staleness(id, { ...entry, codeVersion: 'midtrain@0.1.0+engine0' })!, new RegExp(`made by midtrain@0\\.1\\.0\\+engine0, this code is ${codeVersion().replace(/[.+]/g, '\\$&')}`));
  const { valExamples: _cut, ...oldShape } = entry.config as RunEntry['config'] & { valExamples?: number };
  assert.match(staleness(id, { ...entry, config: oldShape as RunEntry['config'] })!, /config now hashes to sft-/);
  assert.match(staleness(id, entry, 'otherdata')!, /trained on data .*, this checkout builds otherdata/);
  assert.match(staleness(id, { ...entry, dataHash: `${entry.dataHash}+val16` })!, /recorded under data [0-9a-f]{16}\+val16, which is not a data manifest hash/);
});

test('reproduce refuses a stale report before training anything, saying why and how to go on', async () => {
  const { runs } = readReportRuns(reportDir);
  const stale = Object.fromEntries(Object.entries(runs).map(([id, r]) => [id, { ...r, codeVersion: 'midtrain@0.1.0+engine0' }]));
  const file = path.join(work, 'stale-runs.json');
  fs.writeFileSync(file, JSON.stringify(stale));
  await assert.rejects(reproduceReport(file, ['baseline'], { quiet: true }), /stale-runs\.json is stale under this code: 1 of 1 run\(s\) .*made by midtrain@0\.1\.0\+engine0.*re-run the study.*--stale/);
});
