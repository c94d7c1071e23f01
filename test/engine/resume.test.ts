// Kill a run with SIGKILL mid-way (after a checkpoint), resume it with getOrRun, and compare with the same
// run trained without interruption: same losses at every step, one metrics line per step.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { getOrRun, readMetrics, runId, runDir, runStatus } from '../../src/runs/store';
import { listCheckpoints } from '../../src/train/checkpoint';
import { setupBackend } from './helpers';
import { microData, microPretrain } from './fixtures';

let backend = 'wasm';
before(async () => {
  process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-resume-'));
  backend = await setupBackend();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a child process running getOrRun(config) in this test's store; resolves with its exit signal. */
function startChild(config: object, name: string) {
  const file = path.join(process.env.MIDTRAIN_CACHE!, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [path.join(__dirname, 'run-child.js'), file], {
    env: { ...process.env, MIDTRAIN_BACKEND: backend }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, output: () => output };
}

test('SIGKILL mid-run, then resume: final loss equals the uninterrupted run', async () => {
  const data = microData();
  const cfg = microPretrain({ name: 'micro/resume', totalSteps: 40, evalEvery: 10, checkpointEvery: 4, seed: 11 });
  const id = runId(cfg, data.manifestHash);
  const ckRoot = path.join(runDir(id), 'checkpoints');
  const c = startChild(cfg, 'resume');
  // Wait (no time limit: load varies) for a checkpoint past the first one, then kill without warning.
  let alive = true;
  void c.exited.then(() => (alive = false));
  while (alive && !listCheckpoints(ckRoot).some((s) => s >= 8)) await sleep(10);
  assert.ok(alive, `the child ended before it could be killed: ${c.output()}`);
  c.child.kill('SIGKILL');
  assert.equal((await c.exited).signal, 'SIGKILL');
  const killedAt = Math.max(...listCheckpoints(ckRoot));
  assert.ok(killedAt < cfg.totalSteps, 'killed before the end');
  assert.equal(runStatus(id), 'pending', 'a dead holder\'s lock does not count: the run reads as resumable');

  const resumed = await getOrRun(cfg, { quiet: true, data });
  assert.equal(resumed.status, 'finished', resumed.error);
  const logs = readMetrics(id);
  assert.deepEqual(logs.map((l) => l.step), [...Array(40).keys()].map((i) => i + 1), 'one line per step, none doubled');

  const straight = await getOrRun(cfg, { quiet: true, data: { ...data, manifestHash: 'uninterrupted' } });
  const ref = readMetrics(straight.id);
  const a = logs[39], b = ref[39];
  assert.ok(Math.abs(a.trainLoss - b.trainLoss) < 1e-5, `final train loss ${a.trainLoss} vs ${b.trainLoss}`);
  assert.ok(Math.abs(a.val!.general! - b.val!.general!) < 1e-5, `final val loss ${a.val!.general} vs ${b.val!.general}`);
  logs.forEach((l, i) => assert.ok(Math.abs(l.trainLoss - ref[i].trainLoss) < 1e-5, `step ${l.step}: ${l.trainLoss} vs ${ref[i].trainLoss}`));
  console.log(`killed after checkpoint ${killedAt}; final loss resumed ${a.trainLoss.toFixed(6)} vs uninterrupted ${b.trainLoss.toFixed(6)}`);
});

test('two processes on the same run: one trains, the other waits and returns the finished run', async () => {
  const data = microData();
  const cfg = microPretrain({ name: 'micro/contended', totalSteps: 20, seed: 12 });
  const a = startChild(cfg, 'a');
  const b = startChild(cfg, 'b');
  const [ea, eb] = await Promise.all([a.exited, b.exited]);
  assert.equal(ea.code, 0, a.output());
  assert.equal(eb.code, 0, b.output());
  const outs = [a.output(), b.output()];
  assert.equal(outs.filter((o) => /starting, 20 steps/.test(o)).length, 1, outs.join('\n---\n'));
  assert.equal(outs.filter((o) => /finished by another process|already finished/.test(o)).length, 1, outs.join('\n---\n'));
  assert.deepEqual(readMetrics(runId(cfg, data.manifestHash)).map((l) => l.step), [...Array(20).keys()].map((i) => i + 1));
});
