// submitSweep / waitForSweep / sweepStatus against a real one-node Slurm, with a file-backed stand-in
// for the run store (double-store.ts): dependencies, a failure cancelling its dependant, resubmitting
// only what failed, and a finished sweep submitting nothing. The real CLI is tested in sweep.test.ts.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { formatSweepStatus, readLedger, slurmDir, submitSweep, waitForSweep, type Sweep } from '../../src/runs/slurm';
import type { OptimConfig, PretrainConfig, SftConfig } from '../../src/runs/types';
import { startCluster } from './cluster';
import { doubleStore } from './double-store';

const optim: OptimConfig = { lr: 1e-3, minLr: 1e-5, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };
function pre(name: string, parent?: string): PretrainConfig {
  return {
    kind: 'pretrain', name, preset: 'tiny', optim, totalSteps: 10, batchSize: 2, microBatch: 2, evalEvery: 5, evalTokens: 64, seed: 0,
    model: { vocabSize: 64, dModel: 8, nLayers: 1, nHeads: 2, contextLength: 8, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 },
    mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    ...(parent ? { parent: { runId: `id-${parent}`, atFraction: 0.5 } } : {}),
  };
}
function sft(name: string, parent: string): SftConfig {
  return { kind: 'sft', name, preset: 'tiny', task: 'gsm', parent: { runId: `id-${parent}`, atFraction: 1 }, optim, epochs: 1, batchSize: 2, evalEvery: 5, evalTokens: 64, accuracyExamples: 4, seed: 0 };
}

test('submitSweep on a one-node Slurm: DAG, failure, resubmit only what failed, nothing twice', { timeout: 300_000 }, async (t) => {
  const cluster = await startCluster();
  if ('skip' in cluster) {
    console.log(`# SKIPPED Slurm submission test: ${cluster.skip}`);
    t.skip(cluster.skip);
    return;
  }
  try {
    const cache = path.join(cluster.dir, 'cache');
    const store = doubleStore(cache);
    const ctx = { store, cacheRoot: cache };
    const runCommand = [process.execPath, path.join(__dirname, 'double-store.js')];
    const sweep: Sweep = { name: 'double', runs: [pre('A'), sft('a1', 'A'), sft('a2', 'A'), pre('B-flaky', 'A'), sft('b1', 'B-flaky')] };

    const first = submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(first.jobs.map((j) => [j.names, j.dependency?.replace(/\d+_/, 'J_')]), [
      [['A'], undefined],
      [['a1', 'a2', 'B-flaky'], 'afterok:J_0'],
      [['b1'], 'afterok:J_2'],
    ]);
    assert.equal(first.jobs[1].dependency, `afterok:${first.jobs[0].jobId}_0`);
    assert.deepEqual(readLedger(slurmDir(cache)).map((e) => e.runIds), [['id-A'], ['id-a1', 'id-a2', 'id-B-flaky'], ['id-b1']]);
    // Submitting again while everything is queued submits nothing.
    assert.deepEqual(submitSweep(sweep, { ...ctx, runCommand }).jobs, []);

    const r1 = await waitForSweep(sweep, { ...ctx, pollSeconds: 0.5, timeoutSeconds: 120, until: 'all' });
    assert.equal(r1.timedOut, false);
    assert.equal(r1.ok, false);
    assert.deepEqual(r1.runs.map((r) => [r.name, r.state]), [['A', 'finished'], ['a1', 'finished'], ['a2', 'finished'], ['B-flaky', 'failed'], ['b1', 'failed']]);
    const flaky = r1.runs[3];
    assert.equal(flaky.detail, 'failed (slurm FAILED)');
    assert.equal(flaky.log, path.join(slurmDir(cache), 'logs', `${first.jobs[1].jobId}_2.log`));
    assert.ok(flaky.logTail!.includes('double-store: simulated failure'), flaky.logTail!.join('\n'));
    assert.ok(flaky.logTail!.includes('store: simulated failure'));
    assert.match(r1.runs[4].detail, /^slurm CANCELLED/); // its parent failed: never ran
    const text = formatSweepStatus(r1);
    assert.match(text, /^sweep double: 3 finished, 0 running, 0 pending, 2 failed$/m);
    assert.match(text, /double-store: simulated failure/);

    // Fix the bug and resubmit: only B-flaky and its child go again, the child after B's new task.
    fs.writeFileSync(path.join(cache, 'fixed'), '');
    const second = submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(second.plan.skipped.map((s) => s.name), ['A', 'a1', 'a2']);
    assert.deepEqual(second.jobs.map((j) => [j.names, j.dependency]), [[['B-flaky'], undefined], [['b1'], `afterok:${second.jobs[0].jobId}_0`]]);
    const r2 = await waitForSweep(sweep, { ...ctx, pollSeconds: 0.5, timeoutSeconds: 120 });
    assert.equal(r2.ok, true, formatSweepStatus(r2));
    assert.deepEqual(r2.counts, { pending: 0, running: 0, finished: 5, failed: 0 });

    const third = submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(third.jobs, []);
    assert.equal(third.plan.skipped.length, 5);
  } finally {
    cluster.stop();
  }
});
