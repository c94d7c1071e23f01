// submitSweep / waitForSweep / sweepStatus against a real one-node Slurm, with a file-backed stand-in
// for the run store (double-store.ts): dependencies, a failure cancelling its dependant, resubmitting
// only what failed, a finished sweep submitting nothing, and the script's stop-and-requeue on USR1.
// The real CLI is tested in sweep.test.ts.
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { formatSweepStatus, readLedger, slurmDir, submitSweep, waitForSweep, type Sweep } from '../../src/runs/slurm';
import { pre, sft } from './configs';
import { pollUntil, showJob, startCluster, startRequeuedNow, type Cluster } from './cluster';
import { doubleStore } from './double-store';


describe('submitSweep on a one-node Slurm', () => {
  let cluster: Cluster | { skip: string } = { skip: 'not started' };
  before(async () => {
    cluster = await startCluster();
    if ('skip' in cluster) console.log(`# SKIPPED Slurm submission tests: ${cluster.skip}`);
  });
  after(() => {
    if (!('skip' in cluster)) cluster.stop();
  });

  test('DAG, failure, resubmit only what failed, nothing twice', { timeout: 300_000 }, async (t) => {
    if ('skip' in cluster) return t.skip(cluster.skip);
    const cache = path.join(cluster.dir, 'cache');
    const store = doubleStore(cache);
    const ctx = { store, cacheRoot: cache };
    const runCommand = [process.execPath, path.join(__dirname, 'double-store.js')];
    const sweep: Sweep = { name: 'double', runs: [pre('A'), sft('a1', 'A'), sft('a2', 'A'), pre('B-flaky', 'A'), sft('b1', 'B-flaky')] };

    const first = await submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(first.jobs.map((j) => [j.names, j.dependency?.replace(/\d+_/, 'J_')]), [
      [['A'], undefined],
      [['a1', 'a2', 'B-flaky'], 'afterok:J_0'],
      [['b1'], 'afterok:J_2'],
    ]);
    assert.equal(first.jobs[1].dependency, `afterok:${first.jobs[0].jobId}_0`);
    assert.deepEqual(readLedger(slurmDir(cache)).map((e) => e.runIds), [['id-A'], ['id-a1', 'id-a2', 'id-B-flaky'], ['id-b1']]);
    // Submitting again while everything is queued submits nothing.
    assert.deepEqual((await submitSweep(sweep, { ...ctx, runCommand })).jobs, []);

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
    const second = await submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(second.plan.skipped.map((s) => s.name), ['A', 'a1', 'a2']);
    assert.deepEqual(second.jobs.map((j) => [j.names, j.dependency]), [[['B-flaky'], undefined], [['b1'], `afterok:${second.jobs[0].jobId}_0`]]);
    const r2 = await waitForSweep(sweep, { ...ctx, pollSeconds: 0.5, timeoutSeconds: 120 });
    assert.equal(r2.ok, true, formatSweepStatus(r2));
    assert.deepEqual(r2.counts, { pending: 0, running: 0, finished: 5, failed: 0 });

    const third = await submitSweep(sweep, { ...ctx, runCommand });
    assert.deepEqual(third.jobs, []);
    assert.equal(third.plan.skipped.length, 5);
  });

  test('USR1 before the time limit: the task stops its run and requeues itself; the next attempt finishes', { timeout: 180_000 }, async (t) => {
    if ('skip' in cluster) return t.skip(cluster.skip);
    const cache = path.join(cluster.dir, 'cache-requeue');
    const ctx = { store: doubleStore(cache), cacheRoot: cache };
    const sweep: Sweep = { name: 'requeue', runs: [pre('slow')] };
    const [job] = (await submitSweep(sweep, { ...ctx, runCommand: [process.execPath, path.join(__dirname, 'double-store.js')] })).jobs;
    const task = `${job.jobId}_0`;
    await pollUntil('the first attempt to start its run', () => ctx.store.statusOf('id-slow') === 'running', 60);
    // What Slurm does --signal seconds before the limit: USR1 to the batch shell only.
    assert.equal(spawnSync('scancel', ['--batch', '--signal=USR1', task]).status, 0);
    await pollUntil('the task to requeue itself', () => showJob(task)[0].Restarts === '1', 60);
    await startRequeuedNow(task);
    const r = await waitForSweep(sweep, { ...ctx, pollSeconds: 0.5, timeoutSeconds: 120 });
    assert.equal(r.ok, true, formatSweepStatus(r));
    const log = fs.readFileSync(path.join(slurmDir(cache), 'logs', `${task}.log`), 'utf8');
    assert.match(log, /attempt 0 on [^\n]*\n(.|\n)*near its time limit: stopping the run and requeueing\n(.|\n)*SIGTERM, stopping(.|\n)*attempt 1 on /);
  });
});
