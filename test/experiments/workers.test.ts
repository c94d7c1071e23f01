// Local worker processes (experiments/workers.ts): which run a worker takes next, and two real workers
// training the tiny timing experiment in a fresh run store.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheRoot } from '../../src/config';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import { pickNext, studyRuns, studyThroughput, trainAll } from '../../src/experiments/workers';
import { getRun } from '../../src/runs/store';
import type { RunStatus } from '../../src/runs/types';
import { contentId } from './content-id';

const runs = planExperiment('timing', scaleFor('tiny'), 'd', contentId).runs;
const [base, branch] = runs;
const sftOfBranch = runs.find((r) => r.config.kind === 'sft' && r.config.parent?.runId === branch.id)!;

test('pickNext: parents first, skips locked runs, waits on locks, reports runs a failure blocks', () => {
  const st = (m: Record<string, RunStatus>) => (id: string) => m[id];
  const none = () => false;
  assert.equal((pickNext(runs, st({}), none) as { run: { id: string } }).run.id, base.id, 'the baseline first');
  assert.deepEqual(pickNext(runs, st({}), (id) => id === base.id), { wait: true }, 'baseline being trained: everything else waits');
  const afterBase = pickNext(runs, st({ [base.id]: 'finished' }), none) as { run: { id: string; config: { parent?: { runId: string } } } };
  assert.equal(afterBase.run.config.parent?.runId, base.id);
  const allDone = Object.fromEntries(runs.map((r) => [r.id, 'finished' as RunStatus]));
  assert.deepEqual(pickNext(runs, st(allDone), none), { done: true });
  // The branch failed (in this worker): its SFT child can never start, nothing is locked → blocked.
  const failed = { ...allDone, [branch.id]: 'failed' as RunStatus, [sftOfBranch.id]: undefined as unknown as RunStatus };
  const blocked = pickNext(runs, st(failed), none, new Set([branch.id]));
  assert.ok('blocked' in blocked && blocked.blocked.includes(sftOfBranch.config.name) && blocked.blocked.includes(branch.config.name));
});

const previousCache = process.env.MIDTRAIN_CACHE;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-workers-'));
after(() => {
  if (previousCache === undefined) delete process.env.MIDTRAIN_CACHE;
  else process.env.MIDTRAIN_CACHE = previousCache;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two worker processes train every run of an experiment once, parents first, into the store', { timeout: 600_000 }, async () => {
  // A fresh run store; built data is shared with the project cache (deterministic, published atomically).
  const shared = cacheRoot();
  for (const d of ['data', 'corpus', 'sources']) {
    fs.mkdirSync(path.join(shared, d), { recursive: true });
    fs.symlinkSync(path.join(shared, d), path.join(dir, d));
  }
  process.env.MIDTRAIN_CACHE = dir;
  const planned = await studyRuns('tiny', ['timing']);
  const lines: string[] = [];
  await trainAll('tiny', { jobs: 2, experiments: ['timing'], log: (l) => lines.push(l) });
  for (const r of planned) assert.equal(getRun(r.id)?.status, 'finished', `${r.config.name} finished`);
  const finishedLines = lines.filter((l) => / finished in /.test(l));
  assert.equal(finishedLines.length, planned.length, `one "finished" line per run:\n${lines.join('\n')}`);
  assert.ok(lines.some((l) => l.startsWith('[worker 1]')) && lines.some((l) => l.startsWith('[worker 2]')), 'both workers reported');
  assert.ok(lines.some((l) => l.startsWith(`[workers] study: ${planned.length} runs trained`)), `a study throughput line:\n${lines.join('\n')}`);
  // A second call finds nothing to do.
  const again: string[] = [];
  await trainAll('tiny', { jobs: 2, experiments: ['timing'], log: (l) => again.push(l) });
  assert.ok(again.every((l) => !/ finished in /.test(l) && !/ study: /.test(l)), again.join('\n'));
});

test('studyThroughput: all runs\' tokens over the study\'s wall time, beside the median single run', () => {
  // Three runs of 1000 tokens each at 100 tokens/s (10 s each) done in 15 s of wall time by two workers.
  const line = studyThroughput([{ tokensPerSec: 100, wallSeconds: 10 }, { tokensPerSec: 100, wallSeconds: 10 }, { tokensPerSec: 50, wallSeconds: 20 }], 15);
  assert.match(line, /3 runs trained, 3,000 tokens in 15\.0 s of wall time = 200 tokens\/s over the study; one run alone ran at 100 tokens\/s/);
});
