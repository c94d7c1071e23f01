// The one-node cluster harness itself (kernel-setup/slurm): an array job, a job waiting on one of its
// tasks with afterok, a failed parent cancelling its dependant (kill_invalid_depend), and a requeue.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pollUntil, showJob, startCluster, startRequeuedNow } from './cluster';

function sbatch(args: string[]): string {
  const r = spawnSync('sbatch', ['--parsable', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `sbatch ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim().split(';')[0];
}
const states = (id: string) => showJob(id).map((j) => j.JobState);
const ended = (id: string) => states(id).every((s) => !['PENDING', 'RUNNING', 'COMPLETING', 'CONFIGURING', 'REQUEUED'].includes(s));

test('one-node Slurm: array, afterok on one task, failed parent cancels its dependant, requeue', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster();
  if ('skip' in cluster) {
    console.log(`# SKIPPED one-node Slurm harness test: ${cluster.skip}`);
    t.skip(cluster.skip);
    return;
  }
  try {
    const out = path.join(cluster.dir, 'out');
    fs.mkdirSync(out);
    const array = sbatch(['--array=0-2', `--output=${out}/%A_%a.log`, '--wrap', 'echo task $SLURM_ARRAY_TASK_ID; test $SLURM_ARRAY_TASK_ID != 2']);
    const child = sbatch([`--dependency=afterok:${array}_1`, `--output=${out}/child.log`, '--wrap', 'echo child ran']);
    const orphan = sbatch([`--dependency=afterok:${array}_2`, '--kill-on-invalid-dep=yes', `--output=${out}/orphan.log`, '--wrap', 'echo orphan ran']);
    await pollUntil('the array and its dependants to end', () => [array, child, orphan].every(ended), 60);

    assert.deepEqual(showJob(array).map((j) => [j.ArrayTaskId, j.JobState]).sort(), [['0', 'COMPLETED'], ['1', 'COMPLETED'], ['2', 'FAILED']]);
    assert.equal(fs.readFileSync(path.join(out, `${array}_0.log`), 'utf8'), 'task 0\n');
    assert.deepEqual(states(child), ['COMPLETED']);
    assert.equal(fs.readFileSync(path.join(out, 'child.log'), 'utf8'), 'child ran\n');
    assert.deepEqual(states(orphan), ['CANCELLED']);
    assert.equal(fs.existsSync(path.join(out, 'orphan.log')), false);

    // Requeue: the second attempt sees SLURM_RESTART_COUNT=1 (what a resumed run's log shows).
    const requeued = sbatch(['--requeue', '--open-mode=append', `--output=${out}/requeue.log`, '--wrap', 'echo attempt ${SLURM_RESTART_COUNT:-0}; sleep 2']);
    await pollUntil('the requeue test job to run', () => states(requeued)[0] === 'RUNNING', 30);
    assert.equal(spawnSync('scontrol', ['requeue', requeued]).status, 0);
    await startRequeuedNow(requeued);
    await pollUntil('the requeued job to finish', () => states(requeued)[0] === 'COMPLETED', 60);
    assert.match(fs.readFileSync(path.join(out, 'requeue.log'), 'utf8'), /attempt 0\n(.|\n)*attempt 1\n/);
  } finally {
    cluster.stop();
  }
});
