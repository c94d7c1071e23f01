// The study-shaped workload (bench/study-dag): a preset's run DAG trained by the study's worker processes on
// generated data with the real data's shapes. Here the tiny baseline experiment capped at its first 2 runs:
// stopped by its signal after the first run, then continued to the end; the pretraining run learns the generated data's
// token statistics (its val loss falls well below ln V, the loss of a uniform guess).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { projectRoot } from '../../src/config';
import { writeSyntheticData } from '../../src/data/synthetic/build';
import { dataPreset } from '../../src/data/presets';
import { studyRuns, trainAll } from '../../src/experiments/workers';
import { getRun, readMetrics } from '../../src/runs/store';

const previous = { cache: process.env.MIDTRAIN_CACHE, config: process.env.MIDTRAIN_DATA_CONFIG, threads: process.env.MIDTRAIN_NATIVE_THREADS };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-study-dag-'));
after(() => {
  for (const [k, v] of [['MIDTRAIN_CACHE', previous.cache], ['MIDTRAIN_DATA_CONFIG', previous.config], ['MIDTRAIN_NATIVE_THREADS', previous.threads]] as const) {
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a generated-data DAG: stopped after its first run, continued to the end, the pretraining run learned', { timeout: 600_000 }, async () => {
  process.env.MIDTRAIN_CACHE = dir;
  delete process.env.MIDTRAIN_DATA_CONFIG;
  process.env.MIDTRAIN_NATIVE_THREADS = '1';
  await writeSyntheticData('tiny');
  const opts = { jobs: 1, experiments: ['baseline'] as const, maxRuns: 2 };
  const runs = await studyRuns('tiny', opts.experiments, opts.maxRuns);
  assert.equal((await studyRuns('tiny', opts.experiments)).length, 3);
  assert.deepEqual(runs.map((r) => r.config.kind), ['pretrain', 'sft'], 'the cap keeps the parent before its child');

  // Stop when the first run has finished: the worker is ended inside its next run.
  const controller = new AbortController();
  const first: string[] = [];
  const stopped = await trainAll('tiny', { ...opts, signal: controller.signal, log: (l) => { first.push(l); if (/ finished in /.test(l)) controller.abort(); } });
  assert.equal(stopped.stopped, true, first.join('\n'));
  assert.equal(stopped.trained, 1, first.join('\n'));
  assert.equal(getRun(runs[0].id)?.status, 'finished');
  assert.ok(runs.slice(1).every((r) => getRun(r.id)?.status !== 'finished'), 'nothing after the stop finished');
  assert.ok(first.some((l) => /^\[workers\] tiny: 1 worker .* over 2 runs \(the first 2 of the study's 3\)/.test(l)), `the cap is said:\n${first.join('\n')}`);

  // The same call again takes up what is left (the stopped run's lock belongs to a dead process).
  const rest: string[] = [];
  const done = await trainAll('tiny', { ...opts, log: (l) => rest.push(l) });
  assert.deepEqual({ stopped: done.stopped, finishedBefore: done.finishedBefore, trained: done.trained }, { stopped: false, finishedBefore: 1, trained: 1 }, rest.join('\n'));
  for (const r of runs) assert.equal(getRun(r.id)?.status, 'finished', r.config.name);
  assert.ok(rest.some((l) => /^\[workers\] study: 1 runs trained/.test(l)), rest.join('\n'));
  for (const r of runs.slice(1)) assert.ok(getRun(r.id)?.summary?.accuracyCounts, `${r.config.name}: accuracy was scored`);

  // Zipf-distributed ids are learnable: the general val loss ends well below a uniform guess's ln V.
  const evals = readMetrics(runs[0].id).filter((m) => m.val?.general !== undefined).map((m) => m.val!.general!);
  const uniform = Math.log(dataPreset('tiny').vocabSize);
  assert.ok(evals[evals.length - 1] < uniform - 0.5, `final general val loss ${evals[evals.length - 1]} vs ln V = ${uniform.toFixed(2)}`);
});

test('bench/study-dag: generates the data, trains the capped DAG and prints the cost, the runs finished, the throughput and the CPU reference', { timeout: 600_000 }, () => {
  const bench = path.join(projectRoot(), 'dist', 'bench', 'study-dag.js');
  const cache = path.join(dir, 'bench-cache');
  const env = { ...process.env, MIDTRAIN_NATIVE_THREADS: '1' };
  const r = spawnSync(process.execPath, [bench, '--preset', 'tiny', '--jobs', '1', '--experiments', 'baseline', '--max-runs', '1', '--cache', cache], { encoding: 'utf8', env });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  assert.match(out, /\[workers\] tiny: 1 pretraining runs \(0\.02M tokens\), 0 SFT runs .* Estimate: /);
  assert.match(out, /\[workers\] study: 1 runs trained, [\d,]+ tokens in [\d.]+ s of wall time/);
  assert.match(out, /\[study-dag\] done: 1 of 1 runs finished \(1 trained now, 0 before\), 1 worker, training wall time [\d.]+ s/);
  assert.match(out, /\[study-dag\] CPU reference for these 1 runs: /);
  assert.ok(fs.existsSync(path.join(cache, 'data', 'tiny', 'manifest.json')), '--cache keeps the generated data');
  // Bad input: one line naming the flag, nothing trained.
  const bad = spawnSync(process.execPath, [bench, '--preset', 'tiny', '--jobs', '0'], { encoding: 'utf8', env });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), 'study-dag: --jobs expects a whole number ≥ 1, got "0"');
});
