// The run store: ids, getOrRun's three outcomes (finished / resume / start), branching with lineage,
// replaying a checkpoint the parent did not keep, SFT from a checkpoint, the NaN guard, config errors, locks.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getOrRun, getRun, listRuns, readMetrics, readLineageMetrics, runId, runStatus, runDir } from '../../src/runs/store';
import { validateRunConfig } from '../../src/runs/validate';
import { listCheckpoints, checkpointDir, readCheckpoint } from '../../src/train/checkpoint';
import { tryLock } from '../../src/runs/lock';
import { spawnSync } from 'child_process';
import { setupBackend } from './helpers';
import { microData, microPretrain, microSft } from './fixtures';

before(async () => {
  process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-store-'));
  await setupBackend();
});

const data = microData();
const quiet = { quiet: true, data };

test('runId: stable, ignores operational fields, changes with anything that changes training', () => {
  const a = microPretrain();
  assert.equal(runId(a, 'h'), runId({ ...a, name: 'other', keepCheckpointsAt: [0.5], checkpointEvery: 3 }, 'h'));
  assert.equal(runId(a, 'h'), runId(JSON.parse(JSON.stringify({ ...a, optim: { ...a.optim } })), 'h'));
  assert.notEqual(runId(a, 'h'), runId({ ...a, seed: 2 }, 'h'));
  assert.notEqual(runId(a, 'h'), runId(a, 'h2'), 'data hash is part of the id');
  assert.match(runId(a, 'h'), /^pretrain-[0-9a-f]{16}$/);
});

test('config errors name the field in one line', () => {
  const c = microPretrain();
  assert.throws(() => validateRunConfig({ ...c, totalStep: 3 }, 'x.json'), /^Error: x\.json\.totalStep: unknown field/);
  assert.throws(() => validateRunConfig({ ...c, batchSize: '4' }, 'x.json'), /x\.json\.batchSize: expected a positive integer, got "4"/);
  assert.throws(() => validateRunConfig({ ...c, optim: { ...c.optim, lr: null } }, 'x.json'), /x\.json\.optim\.lr: expected a finite number/);
  assert.throws(() => validateRunConfig({ ...c, mixture: [{ fromFraction: 0, weights: { cod: 1 } }] }, 'x.json'), /x\.json\.mixture\[0\]\.weights\.cod: unknown key/);
  assert.throws(() => validateRunConfig({ ...c, model: { ...c.model, nHeads: 5 } }, 'x.json'), /x\.json\.model\.nHeads/);
  for (const bad of [{ ...c, totalStep: 3 }, { ...c, seed: -1 }]) {
    try { validateRunConfig(bad, 'x.json'); } catch (e) { assert.equal((e as Error).message.split('\n').length, 1); }
  }
});

test('getOrRun: trains, keeps checkpoints, and a second call trains nothing', async () => {
  const cfg = microPretrain({ keepCheckpointsAt: [0.25, 0.5], checkpointEvery: 5 });
  const rec = await getOrRun(cfg, quiet);
  assert.equal(rec.status, 'finished', rec.error);
  assert.equal(rec.id, runId(cfg, data.manifestHash));
  const logs = readMetrics(rec.id);
  assert.deepEqual(logs.map((l) => l.step), [...Array(12).keys()].map((i) => i + 1));
  assert.ok(logs[11].val?.general !== undefined && rec.summary!.finalVal.general === logs[11].val!.general);
  // kept: 25% → 3, 50% → 6, final 12 (the "latest" at 10 is pruned at the end)
  assert.deepEqual(listCheckpoints(path.join(rec.dir, 'checkpoints')), [3, 6, 12]);
  const mtime = fs.statSync(path.join(rec.dir, 'metrics.jsonl')).mtimeMs;
  const again = await getOrRun({ ...cfg, name: 'renamed' }, quiet);
  assert.equal(again.id, rec.id);
  assert.equal(fs.statSync(path.join(rec.dir, 'metrics.jsonl')).mtimeMs, mtime, 'nothing was retrained');
  assert.equal(runStatus(rec.id), 'finished');
  assert.ok(listRuns().some((r) => r.id === rec.id));
});

test('branching (midtraining) starts from the parent checkpoint at round(f·total), records lineage, and a missing fraction is replayed exactly', async () => {
  const base = microPretrain({ keepCheckpointsAt: [0.25, 0.5], checkpointEvery: 5 });
  const baseId = runId(base, data.manifestHash);
  await getOrRun(base, quiet);
  const mid = microPretrain({
    name: 'micro/mid-code', parent: { runId: baseId, atFraction: 0.5 },
    mixture: [{ fromFraction: 0, weights: { general: 1 } }, { fromFraction: 0.5, weights: { general: 0.5, code: 0.5 } }],
  });
  const m = await getOrRun(mid, quiet);
  assert.equal(m.status, 'finished', m.error);
  assert.equal(m.parentId, baseId);
  const own = readMetrics(m.id);
  assert.equal(own[0].step, 7, 'continues after step 6 of 12');
  assert.deepEqual(own[0].weights, { general: 0.5, code: 0.5 });
  assert.deepEqual(readLineageMetrics(m.id).map((l) => l.step), [...Array(12).keys()].map((i) => i + 1));
  // The baseline's own step-7 loss (general only) differs from the branch's (mixed) step 7.
  assert.notEqual(readMetrics(baseId)[6].trainLoss, own[0].trainLoss);

  // A fraction the parent did not keep (step 9): replayed from step 6, identical to the uninterrupted run's weights.
  const root = path.join(runDir(baseId), 'checkpoints');
  const late = microPretrain({ name: 'micro/cpt-code', parent: { runId: baseId, atFraction: 0.75 }, mixture: [{ fromFraction: 0, weights: { code: 1 } }] });
  const c = await getOrRun(late, quiet);
  assert.equal(c.status, 'finished', c.error);
  assert.ok(listCheckpoints(root).includes(9));
  const replayed = readCheckpoint(checkpointDir(root, 9));
  // Reference: a fresh copy of the baseline (different name, same id → use a different seed-free route):
  // train the same config under another data hash so it runs again from scratch, keeping step 9.
  const ref = await getOrRun({ ...base, keepCheckpointsAt: [0.75] }, { quiet: true, data: { ...data, manifestHash: 'test-data-copy' } });
  const direct = readCheckpoint(checkpointDir(path.join(ref.dir, 'checkpoints'), 9));
  for (const k of Object.keys(direct.params)) assert.deepEqual(replayed.params[k], direct.params[k], `${k} differs after replay`);
  assert.deepEqual(replayed.adam!.m['head.w'], direct.adam!.m['head.w']);
});

test('SFT from a pretraining run: masked loss falls, forgetting and accuracy are recorded', async () => {
  const base = microPretrain();
  const baseId = runId(base, data.manifestHash);
  await getOrRun(base, quiet);
  const s = await getOrRun(microSft(baseId, { epochs: 4 }), quiet);
  assert.equal(s.status, 'finished', s.error);
  assert.equal(s.parentId, baseId);
  const logs = readMetrics(s.id);
  assert.equal(logs.length, 4 * 6);
  const evals = logs.filter((l) => l.val);
  assert.ok(evals[evals.length - 1].val!.sft! < evals[0].val!.sft!, 'SFT val loss falls');
  assert.ok(typeof evals[0].val!.general === 'number');
  assert.ok(s.summary!.accuracy! >= 0 && s.summary!.accuracy! <= 1);
  const counts = s.summary!.accuracyCounts!;
  assert.equal(counts.method, 'generate');
  assert.equal(counts.n + counts.dropped, 4, 'accuracyExamples test examples, scored or dropped');
  assert.equal(s.summary!.accuracy, counts.correct / counts.n);
  assert.equal(s.summary!.test!.examples, 6, 'test loss over the whole test split');
  assert.ok(Number.isFinite(s.summary!.test!.sft));
  assert.ok(fs.existsSync(path.join(s.dir, 'samples.json')));
});

test('a child whose parent is not in the store fails with one clear line', async () => {
  await assert.rejects(getOrRun(microSft('pretrain-0000000000000000'), quiet), /parent run pretrain-0000000000000000 is not in the store/);
});

test('NaN guard: a run whose loss blows up is marked failed, keeps its last good checkpoint', async () => {
  const cfg = microPretrain({ name: 'micro/explodes', optim: { ...microPretrain().optim, lr: 1e38, minLr: 1e38, warmupFraction: 0, gradClip: 0 }, checkpointEvery: 1 });
  const r = await getOrRun(cfg, quiet);
  assert.equal(r.status, 'failed');
  assert.match(r.error!, /non-finite training loss .* at step \d+/);
  const steps = listCheckpoints(path.join(r.dir, 'checkpoints'));
  assert.ok(steps.length >= 1, 'the last good checkpoint is kept');
  assert.equal(Math.max(...steps), readMetrics(r.id).length, 'last checkpoint = last finite step');
  assert.equal(getRun(r.id)!.status, 'failed');
});

test('lock: a second caller waits for the first and gets its finished run', async () => {
  const cfg = microPretrain({ seed: 77 });
  const [a, b] = await Promise.all([getOrRun(cfg, quiet), getOrRun(cfg, { ...quiet, pollMs: 20 })]);
  assert.equal(a.status, 'finished');
  assert.equal(b.status, 'finished');
  assert.equal(readMetrics(a.id).length, 12, 'trained once');
  const l = tryLock(path.join(os.tmpdir(), `midtrain-lock-${process.pid}`));
  assert.ok(typeof l !== 'string');
  assert.match(String(tryLock(path.join(os.tmpdir(), `midtrain-lock-${process.pid}`))), new RegExp(`pid ${process.pid}`));
  l.release();
  const again = tryLock(path.join(os.tmpdir(), `midtrain-lock-${process.pid}`));
  assert.ok(typeof again !== 'string', 'released locks can be retaken');
  again.release();
});

test('stale locks are broken: a dead process on this host, or a silent one on another host', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-stale-'));
  const file = path.join(dir, 'lock');
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  fs.writeFileSync(file, JSON.stringify({ pid: Number(dead.stdout.trim()), host: os.hostname(), since: 'then' }));
  const a = tryLock(dir);
  assert.ok(typeof a !== 'string', `dead holder's lock should be broken: ${a}`);
  a.release();
  fs.writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', since: 'now' }));
  assert.match(String(tryLock(dir)), /pid 1 on elsewhere/, 'another host with a fresh heartbeat holds it');
  const old = new Date(Date.now() - 11 * 60 * 1000);
  fs.utimesSync(file, old, old);
  const b = tryLock(dir);
  assert.ok(typeof b !== 'string', `silent remote holder's lock should be broken: ${b}`);
  b.release();
  assert.ok(!fs.existsSync(file));
});
