// The acceptance test: a one-node Slurm on this machine runs a tiny-preset sweep (one pretraining
// run, two SFT runs waiting on it) submitted with `midtrain sweep --slurm`; every array task runs
// `midtrain run` into the shared run store. Then the store holds every result, `midtrain status` says
// so, and a second submission submits nothing. Skips (saying why) when Slurm cannot start here.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cacheRoot, projectRoot } from '../../src/config';
import { baselineConfig, sftConfig } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import { ensureData } from '../../src/data';
import { getRun, runId } from '../../src/runs/store';
import { formatSweepStatus, slurmDir, waitForSweep, type Sweep } from '../../src/runs/slurm';
import { startCluster, type Cluster } from './cluster';

let cluster: Cluster | { skip: string } = { skip: 'not started' };
const previousCache = process.env.MIDTRAIN_CACHE;
before(async () => {
  cluster = await startCluster();
  if ('skip' in cluster) console.log(`# SKIPPED Slurm sweep test: ${cluster.skip}`);
});
after(() => {
  if (!('skip' in cluster)) cluster.stop();
  if (previousCache === undefined) delete process.env.MIDTRAIN_CACHE;
  else process.env.MIDTRAIN_CACHE = previousCache;
});

const cli = path.join(projectRoot(), 'dist', 'src', 'cli.js');
function midtrain(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: process.env, timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('tiny sweep on a one-node Slurm: SFT waits for its parent, the store holds every result, resubmitting submits nothing', { timeout: 600_000 }, async (t) => {
  if ('skip' in cluster) return t.skip(cluster.skip);
  // A fresh run store on the "shared filesystem" (the cluster's folder); built data is shared with the
  // project cache (deterministic, published atomically), so the sweep does not rebuild it.
  const shared = cacheRoot();
  const cache = path.join(cluster.dir, 'cache');
  for (const d of ['data', 'corpus', 'sources']) {
    fs.mkdirSync(path.join(shared, d), { recursive: true });
    fs.mkdirSync(cache, { recursive: true });
    fs.symlinkSync(path.join(shared, d), path.join(cache, d));
  }
  process.env.MIDTRAIN_CACHE = cache;

  // The smallest honest configs: 8 pretraining steps, two SFT runs on a handful of examples.
  const scale = scaleFor('tiny');
  const { manifestHash } = await ensureData('tiny', { quiet: true });
  const base = { ...baselineConfig(scale), name: 'slurm-test/pretrain', totalSteps: 8, evalEvery: 4, evalTokens: 256, keepCheckpointsAt: [] };
  const baseId = runId(base, manifestHash);
  const child = (task: 'gsm' | 'sciq') => ({ ...sftConfig(scale, 'baseline', baseId, task, 1e-3, 0), maxExamples: 8, accuracyExamples: 2, evalEvery: 100, evalTokens: 256 });
  const sweep: Sweep = { name: 'slurm-test', runs: [base, child('gsm'), child('sciq')] };
  const sweepFile = path.join(cluster.dir, 'sweep.json');
  fs.writeFileSync(sweepFile, JSON.stringify(sweep, null, 2));

  const first = midtrain(['sweep', sweepFile, '--slurm', '--time', '10']);
  assert.equal(first.status, 0, first.out);
  const jobIds = /job ids: (\d+) (\d+)/.exec(first.out);
  assert.ok(jobIds, first.out);
  assert.match(first.out, new RegExp(`submitted ${jobIds[2]}: 2 run\\(s\\) .* after afterok:${jobIds[1]}_0`));
  // The CLI's --time reached the script, with the USR1 warning scaled to it (a tenth of 10 min).
  const script = fs.readFileSync(/submitted \d+: .*\n {2}(\S+\.sh)/.exec(first.out)![1], 'utf8');
  assert.match(script, /^#SBATCH --time=10$/m);
  assert.match(script, /^#SBATCH --signal=B:USR1@60$/m);
  assert.match(script, new RegExp(`^export MIDTRAIN_CACHE=${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

  const done = await waitForSweep(sweep, { pollSeconds: 2, timeoutSeconds: 420, until: 'all' });
  assert.equal(done.ok, true, formatSweepStatus(done));
  for (const r of done.runs) {
    const rec = getRun(r.id);
    assert.equal(rec?.status, 'finished', `${r.name}: ${JSON.stringify(rec)}`);
    assert.ok(Number.isFinite(rec!.summary!.finalVal[rec!.config.kind === 'sft' ? 'sft' : 'general']), `${r.name} has a final val loss`);
    assert.ok(fs.existsSync(path.join(rec!.dir, 'metrics.jsonl')));
    if (rec!.config.kind === 'sft') assert.equal(rec!.parentId, baseId);
  }
  // Each task logged into the store's slurm folder; the SFT tasks started only after the pretraining task ended.
  const logs = path.join(slurmDir(cache), 'logs');
  assert.deepEqual(fs.readdirSync(logs).sort(), [`${jobIds[1]}_0.log`, `${jobIds[2]}_0.log`, `${jobIds[2]}_1.log`]);
  assert.match(fs.readFileSync(path.join(logs, `${jobIds[2]}_1.log`), 'utf8'), /fine-tuning from slurm-test\/pretrain/);

  const status = midtrain(['status', sweepFile]);
  assert.equal(status.status, 0, status.out);
  assert.match(status.out, /sweep slurm-test: 3 finished, 0 running, 0 pending, 0 failed/);

  // Plain `midtrain status`: the store's lineage view, then the Slurm section of submitted runs.
  const all = midtrain(['status']);
  assert.equal(all.status, 0, all.out);
  assert.match(all.out, /3 run\(s\) in /);
  assert.match(all.out, /Slurm \(.*\):\nsweep \(submitted to Slurm\): 3 finished, 0 running, 0 pending, 0 failed/);
  assert.match(all.out, new RegExp(`finished +tiny/sft-sciq-baseline-lr0.001-s0 +sft-[0-9a-f]+ +${jobIds[2]}_1 +finished`));

  const second = midtrain(['sweep', sweepFile, '--slurm']);
  assert.equal(second.status, 0, second.out);
  assert.match(second.out, /nothing to submit: all 3 run\(s\) of "slurm-test" are finished or queued/);
  assert.doesNotMatch(second.out, /submitted/);
});
