// Crash consistency: SIGKILL a micro run at many moments, resuming it each time, and compare its final
// checkpoint (weights and Adam moments) with an uninterrupted run's, byte for byte. Half the kills come at
// a random moment after the run made progress; the other half use the durable writer's test hook
// (MIDTRAIN_STOP_IN_WRITE, src/durable.ts), which stops the process inside a write (temp file written,
// synced, or renamed) so the kill lands exactly there. After every kill the store must load cleanly:
// run.json, config.json and metrics.jsonl verify, and the newest checkpoint verifies.
//
// The test (crash.test.ts) runs a few kills; the full count runs as a script:
//   npx tsc -p . && node dist/test/engine/crash.js 30
import * as assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getOrRun, getRun, readMetrics, runDir, runId } from '../../src/runs/store';
import { checkpointDir, listCheckpoints, readCheckpoint } from '../../src/train/checkpoint';
import { microData, microPretrain } from './fixtures';
import { setupBackend } from './helpers';
import { Rng } from '../../src/rng';

export interface CrashReport {
  kills: number;
  /** Kills that landed inside a durable write (stopped there by the hook). */
  inWrite: number;
  /** Of those, by stage. */
  stages: Record<string, number>;
  /** Child processes that finished the run before a kill could land. */
  finishedEarly: number;
  steps: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kill the micro run `kills` times (alternating random-moment and inside-a-write kills), then finish it. */
export async function crashAndResume(kills: number, seed = 1): Promise<CrashReport> {
  if (!process.env.MIDTRAIN_CACHE) process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-crash-'));
  const backend = await setupBackend();
  const data = microData();
  const cfg = microPretrain({ name: 'micro/crash', totalSteps: 24, checkpointEvery: 2, evalEvery: 100, seed: 21 });
  const id = runId(cfg, data.manifestHash);
  const configFile = path.join(process.env.MIDTRAIN_CACHE, 'crash-config.json');
  fs.writeFileSync(configFile, JSON.stringify(cfg));
  const rng = new Rng(seed);
  const report: CrashReport = { kills: 0, inWrite: 0, stages: {}, finishedEarly: 0, steps: cfg.totalSteps };
  const metricsFile = path.join(runDir(id), 'metrics.jsonl');
  const size = () => (fs.existsSync(metricsFile) ? fs.statSync(metricsFile).size : 0);

  for (let attempt = 0; report.kills < kills; attempt++) {
    if (attempt > kills * 4) throw new Error(`crash test: only ${report.kills} of ${kills} kills landed in ${attempt} attempts`);
    const inWrite = attempt % 2 === 1;
    // Which write stage to stop at: 1..24 covers the first run.json/config.json saves and several checkpoints.
    const stopAt = inWrite ? 1 + rng.int(24) : undefined;
    const child = spawn(process.execPath, [path.join(__dirname, 'run-child.js'), configFile], {
      env: { ...process.env, MIDTRAIN_BACKEND: backend, ...(stopAt ? { MIDTRAIN_STOP_IN_WRITE: String(stopAt) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stopped: string | undefined;
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => {
      output += d;
      const m = /midtrain-write-stop (\w+) /.exec(output);
      if (m && !stopped) {
        stopped = m[1];
        child.kill('SIGKILL');
      }
    });
    let exited = false;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => { exited = true; r({ code, signal }); }));
    if (!inWrite) {
      // A random moment after the run has made progress (a new metrics line), within the next ~0.3 s.
      const before = size();
      while (!exited && size() <= before) await sleep(5);
      await sleep(rng.int(300));
      if (!exited) child.kill('SIGKILL');
    }
    const { code, signal } = await exit;
    if (signal === 'SIGKILL') {
      report.kills++;
      if (stopped) {
        report.inWrite++;
        report.stages[stopped] = (report.stages[stopped] ?? 0) + 1;
      }
    } else {
      assert.equal(code, 0, `child exited ${code}: ${output}`);
      report.finishedEarly++;
      if (getRun(id)?.status === 'finished') {
        // Finished before the kills were all spent: start the run over (a fresh store folder) and go on.
        fs.renameSync(runDir(id), `${runDir(id)}.done-${attempt}`);
      }
    }
    // Whatever moment the kill hit, the store loads and verifies.
    const rec = getRun(id);
    if (rec) {
      readMetrics(id);
      const steps = listCheckpoints(path.join(rec.dir, 'checkpoints'));
      if (steps.length) readCheckpoint(checkpointDir(path.join(rec.dir, 'checkpoints'), steps[steps.length - 1]), { verified: false });
    }
  }
  // Finish it, then compare with the same run trained without interruption (another data hash: another id).
  const resumed = await getOrRun(cfg, { quiet: true, data });
  assert.equal(resumed.status, 'finished', resumed.error);
  assert.deepEqual(readMetrics(id).map((l) => l.step), [...Array(cfg.totalSteps).keys()].map((i) => i + 1), 'one metrics line per step');
  const straight = await getOrRun(cfg, { quiet: true, data: { ...data, manifestHash: 'uninterrupted' } });
  const final = (dir: string) => fs.readFileSync(path.join(checkpointDir(path.join(dir, 'checkpoints'), cfg.totalSteps), 'weights.bin'));
  assert.ok(final(resumed.dir).equals(final(straight.dir)), 'final weights and Adam moments equal the uninterrupted run bit for bit');
  return report;
}

export function describeReport(r: CrashReport): string {
  const stages = Object.entries(r.stages).map(([s, n]) => `${n} after "${s}"`).join(', ');
  return `${r.kills} SIGKILLs of a ${r.steps}-step run, ${r.inWrite} inside durable writes (${stages || 'none'}), ` +
    `${r.kills - r.inWrite} at random moments; ${r.finishedEarly} child(ren) finished before a kill; final weights and Adam moments bit-identical to the uninterrupted run`;
}

if (require.main === module) {
  const kills = Number(process.argv[2] ?? 30);
  crashAndResume(kills).then(
    (r) => console.log(describeReport(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
