// Test helper: a one-node Slurm cluster in a temp folder (kernel-setup/slurm/start-cluster.sh), stopped
// by PID however the test ends. Tests call `startCluster()` and skip, printing the reason, when Slurm
// cannot run here (not Linux, packages missing: the script's exit 3, or MIDTRAIN_SKIP_SLURM=1). With the
// packages installed, daemons that fail to come up are a test failure, not a skip: CI must not go green
// on a harness that silently stopped working.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectRoot } from '../../src/config';
import { freePort } from '../free-port';

export interface Cluster {
  dir: string;
  /** SLURM_CONF of this cluster (also set in process.env while the cluster runs). */
  conf: string;
  stop(): void;
}


/** Start the cluster; returns it, or `{ skip: reason }` when Slurm cannot run on this machine. */
export async function startCluster(): Promise<Cluster | { skip: string }> {
  if (process.env.MIDTRAIN_SKIP_SLURM === '1') return { skip: 'MIDTRAIN_SKIP_SLURM=1' };
  if (process.platform !== 'linux') return { skip: `Slurm test needs Linux (this is ${process.platform})` };
  const scripts = path.join(projectRoot(), 'kernel-setup', 'slurm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-slurm-'));
  const [ctld, slurmd] = [await freePort(), await freePort()];
  const r = spawnSync('bash', [path.join(scripts, 'start-cluster.sh'), dir, String(ctld), String(slurmd)], { encoding: 'utf8', timeout: 90_000 });
  const conf = path.join(dir, 'etc', 'slurm.conf');
  const previousConf = process.env.SLURM_CONF;
  const stop = () => {
    spawnSync('bash', [path.join(scripts, 'stop-cluster.sh'), dir], { stdio: 'inherit', env: { ...process.env, SLURM_CONF: conf }, timeout: 60_000 });
    if (previousConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = previousConf;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (r.status !== 0) {
    stop(); // a half-started cluster (munged up, slurmctld not) must not outlive the test either
    const why = `start-cluster.sh exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || String(r.error)).trim()}`;
    if (r.status !== 3) throw new Error(`${why}\n(set MIDTRAIN_SKIP_SLURM=1 to skip the Slurm tests on this machine)`);
    return { skip: why };
  }
  process.env.SLURM_CONF = conf;
  return { dir, conf, stop };
}

/** Poll (every 0.5 s) until `done()` is true; throws with `what` after `timeoutS` seconds. */
export async function pollUntil(what: string, done: () => boolean, timeoutS: number): Promise<void> {
  const end = Date.now() + timeoutS * 1000;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutS} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `scontrol show job -o <id>` as key=value pairs of each record (one per array task). */
export function showJob(id: string): Record<string, string>[] {
  const r = spawnSync('scontrol', ['show', 'job', '-o', id], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scontrol show job ${id}: ${r.stderr.trim()}`);
  return r.stdout.trim().split('\n').map((line) => Object.fromEntries(line.split(/\s+/).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  })));
}

/**
 * After a requeue: start the job's next attempt at once. Slurm holds a requeued job ~2.5 min for
 * eligibility (Reason=BeginTime) and sets that hold only once the old attempt has wound down, so the
 * override is re-issued on every poll while the requeued job pends, until attempt `attempt` runs or ran.
 */
export async function startRequeuedNow(id: string, attempt = 1, timeoutS = 90): Promise<void> {
  await pollUntil(`${id} to start attempt ${attempt}`, () => {
    const j = showJob(id)[0];
    if (j.JobState === 'PENDING' && Number(j.Restarts) >= attempt) spawnSync('scontrol', ['update', `JobId=${id}`, 'StartTime=now']);
    return Number(j.Restarts) >= attempt && ['RUNNING', 'COMPLETED'].includes(j.JobState);
  }, timeoutS);
}
