// Integrity of the run store: corrupted checkpoints are never trained from (resume falls back to the newest
// checkpoint that verifies; a branch replays its parent's corrupt checkpoint), corrupted records and
// metrics stop with one line naming the run, the file and what to do, stores written before checksums
// load with one line saying so (same run ids), a torn metrics line is cut back on resume, and the
// messages say what happened (no "checkpoint kept" without one; a waiter's count of runs trained).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { getOrRun, getRun, readMetrics, runDir, runId, loadRunWeights } from '../../src/runs/store';
import { checkpointDir, listCheckpoints } from '../../src/train/checkpoint';
import { tryLock } from '../../src/runs/lock';
import { runConfigs } from '../../src/cli';
import { setupBackend } from './helpers';
import { microData, microPretrain, microSft } from './fixtures';

before(async () => {
  process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-integrity-'));
  await setupBackend();
});

const data = microData();

/** Flip one bit of a file at `offset` (negative: from the end). */
function flipBit(file: string, offset: number): void {
  const b = fs.readFileSync(file);
  const at = offset < 0 ? b.length + offset : offset;
  b[at] ^= 0x10;
  fs.writeFileSync(file, b);
}

/** Run `fn`, collecting what it prints to stdout and stderr. */
async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    return { value: await fn(), lines };
  } finally {
    console.log = log;
    console.error = err;
  }
}

/** Train `cfg` until step `stopAt`, where it fails (as a killed run would stop), leaving its checkpoints. */
async function interrupted(cfg: ReturnType<typeof microPretrain>, stopAt: number) {
  const r = await getOrRun(cfg, { quiet: true, data, onLog: (l) => { if (l.step === stopAt) throw new Error('interrupted for the test'); } });
  assert.equal(r.status, 'failed');
  return r;
}

const finalWeights = (dir: string, step: number) => fs.readFileSync(path.join(checkpointDir(path.join(dir, 'checkpoints'), step), 'weights.bin'));

test('resume: a corrupt newest checkpoint (one bit of an Adam moment) is set aside; the run resumes from the one before and ends bit-identical', async () => {
  const cfg = microPretrain({ name: 'micro/ck-corrupt', totalSteps: 12, checkpointEvery: 2, keepCheckpointsAt: [0.5], seed: 31 });
  const r = await interrupted(cfg, 9);
  const root = path.join(r.dir, 'checkpoints');
  assert.deepEqual(listCheckpoints(root), [6, 8]);
  flipBit(path.join(checkpointDir(root, 8), 'weights.bin'), -8); // the last tensor group is the second Adam moment
  const { value: resumed, lines } = await capture(() => getOrRun(cfg, { data }));
  assert.equal(resumed.status, 'finished', resumed.error);
  const said = lines.filter((l) => /checkpoint step 8 is corrupt/.test(l));
  assert.equal(said.length, 1, lines.join('\n'));
  assert.match(said[0], new RegExp(`run ${r.id}: .*weights\\.bin: does not match its checksum .*moved aside to step-0000008\\.corrupt-.*going on from checkpoint step 6`));
  assert.ok(lines.some((l) => /resuming from its checkpoint at step 6\/12/.test(l)), lines.join('\n'));
  assert.ok(fs.readdirSync(root).some((n) => /^step-0000008\.corrupt-/.test(n)), 'kept aside for inspection');
  assert.deepEqual(readMetrics(r.id).map((l) => l.step), [...Array(12).keys()].map((i) => i + 1));
  const straight = await getOrRun(cfg, { quiet: true, data: { ...data, manifestHash: 'straight-ck' } });
  assert.ok(finalWeights(r.dir, 12).equals(finalWeights(straight.dir, 12)), 'bit-identical to the uninterrupted run');
});

test('branch: a parent whose checkpoint at the branch step is corrupt is replayed from its last good one; the child trains from the right weights', async () => {
  const base = microPretrain({ name: 'micro/parent', totalSteps: 12, keepCheckpointsAt: [0.5], seed: 32 });
  const p = await getOrRun(base, { quiet: true, data });
  const root = path.join(p.dir, 'checkpoints');
  const good = finalWeights(p.dir, 12);
  flipBit(path.join(checkpointDir(root, 12), 'weights.bin'), 100); // a weight
  assert.throws(() => loadRunWeights(p.id), new RegExp(`^Error: run ${p.id}: .*weights\\.bin: does not match its checksum \\(corrupted\\); .*replays it`));
  const child = microSft(p.id, { epochs: 1 });
  const { value: s, lines } = await capture(() => getOrRun(child, { data }));
  assert.equal(s.status, 'finished', s.error);
  assert.ok(lines.some((l) => new RegExp(`run ${p.id}: checkpoint step 12 is corrupt .*going on from checkpoint step 6`).test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /replaying from step 6/.test(l)), lines.join('\n'));
  assert.ok(finalWeights(p.dir, 12).equals(good), 'the replayed checkpoint equals the original, uncorrupted one');
  // The same child trained from an intact parent ends with the same weights.
  const p2 = await getOrRun(base, { quiet: true, data: { ...data, manifestHash: 'intact-parent' } });
  const s2 = await getOrRun(microSft(p2.id, { epochs: 1 }), { quiet: true, data: { ...data, manifestHash: 'intact-parent' } });
  const last = (rec: typeof s) => Math.max(...listCheckpoints(path.join(rec.dir, 'checkpoints')));
  assert.ok(finalWeights(s.dir, last(s)).equals(finalWeights(s2.dir, last(s2))));
});

test('a corrupt parent checkpoint that cannot be replayed (other data) is refused with one line', async () => {
  const base = microPretrain({ name: 'micro/parent-other-data', totalSteps: 8, seed: 33 });
  const other = { ...data, manifestHash: 'other-data' };
  const p = await getOrRun(base, { quiet: true, data: other });
  flipBit(path.join(checkpointDir(path.join(p.dir, 'checkpoints'), 8), 'index.json'), 30);
  const s = await getOrRun(microSft(p.id, { epochs: 1 }), { quiet: true, data });
  assert.equal(s.status, 'failed');
  assert.match(s.error!, new RegExp(`^run ${p.id}: .*index\\.json: .*cannot be replayed .*delete .* and train it again$`));
});

test('run.json, config.json and metrics.jsonl: a flipped byte is one line naming the run, the file and what to do', async () => {
  const cfg = microPretrain({ name: 'micro/files', totalSteps: 6, seed: 34 });
  const r = await getOrRun(cfg, { quiet: true, data });
  const dir = runDir(r.id);
  for (const [file, offset] of [['metrics.jsonl', 40], ['config.json', 20], ['run.json', 60]] as const) {
    const full = path.join(dir, file);
    const saved = fs.readFileSync(full);
    // Change a digit to another digit, so the JSON still parses and only the checksum can tell.
    const b = Buffer.from(saved);
    let at = offset;
    while (!(b[at] >= 0x30 && b[at] <= 0x39)) at++;
    b[at] = b[at] === 0x39 ? 0x38 : b[at] + 1;
    fs.writeFileSync(full, b);
    const read = () => (file === 'metrics.jsonl' ? readMetrics(r.id) : getRun(r.id));
    assert.throws(read, (e: Error) => {
      assert.match(e.message, new RegExp(`^run ${r.id}: .*${file.replace('.', '\\.')} (does not match its checksum|is not valid JSON).*; (restore|delete) `), e.message);
      assert.equal(e.message.split('\n').length, 1);
      return true;
    });
    fs.writeFileSync(full, saved);
  }
  assert.equal(readMetrics(r.id).length, 6, 'intact again');
});

test('a store written before checksums loads, saying once per run that it is unverified; run ids are unchanged', async () => {
  const cfg = microPretrain({ name: 'micro/old-store', totalSteps: 6, seed: 35 });
  const r = await getOrRun(cfg, { quiet: true, data });
  assert.equal(r.id, runId(cfg, data.manifestHash));
  // Strip every checksum, as the store wrote files before this format.
  const runJson = path.join(r.dir, 'run.json');
  const { checksums: _c, ...plain } = JSON.parse(fs.readFileSync(runJson, 'utf8'));
  fs.writeFileSync(runJson, JSON.stringify(plain, null, 2) + '\n');
  const ck = path.join(checkpointDir(path.join(r.dir, 'checkpoints'), 6), 'index.json');
  const { sha256: _s, ...index } = JSON.parse(fs.readFileSync(ck, 'utf8'));
  fs.writeFileSync(ck, JSON.stringify(index));
  const { value, lines } = await capture(async () => [getRun(r.id), getRun(r.id), readMetrics(r.id), loadRunWeights(r.id)] as const);
  assert.equal(value[0]!.status, 'finished');
  assert.equal(value[2].length, 6);
  assert.equal(value[3].step, 6);
  assert.deepEqual(lines, [
    `[midtrain] run ${r.id}: run.json, config.json and metrics.jsonl were written before checksums existed; loaded unverified`,
    `[midtrain] run ${r.id}: checkpoint step 6 was written before checksums existed; loaded unverified`,
  ]);
  const again = await getOrRun(cfg, { quiet: true, data });
  assert.equal(again.id, r.id, 'same id, not retrained');
});

test('a torn last line of metrics.jsonl is cut back on resume', async () => {
  const cfg = microPretrain({ name: 'micro/torn', totalSteps: 8, checkpointEvery: 2, seed: 36 });
  const r = await interrupted(cfg, 5);
  const file = path.join(r.dir, 'metrics.jsonl');
  fs.appendFileSync(file, '{"step":6,"trainLo');
  assert.equal(readMetrics(r.id).length, 5, 'readers skip the torn line');
  const done = await getOrRun(cfg, { quiet: true, data });
  assert.equal(done.status, 'finished', done.error);
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(!text.includes('trainLo\n') && !/"trainLo[^s]/.test(text), 'torn fragment gone');
  assert.deepEqual(text.trimEnd().split('\n').map((l) => JSON.parse(l).step), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('messages: a NaN before any checkpoint does not claim one was kept', async () => {
  const cfg = microPretrain({ name: 'micro/nan-early', optim: { ...microPretrain().optim, lr: 1e38, minLr: 1e38, warmupFraction: 0, gradClip: 0 }, checkpointEvery: 100, seed: 37 });
  const r = await getOrRun(cfg, { quiet: true, data });
  assert.equal(r.status, 'failed');
  assert.deepEqual(listCheckpoints(path.join(r.dir, 'checkpoints')), []);
  assert.match(r.error!, /non-finite training loss .*: run stopped; no checkpoint was written yet, so a rerun starts from the beginning$/);
  assert.doesNotMatch(r.error!, /checkpoint (is )?kept/);
});

test('messages: a lock file whose holder has not written it yet is not described as "pid -1 on ?"', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-lock-empty-'));
  fs.writeFileSync(path.join(dir, 'lock'), '');
  const r = tryLock(dir);
  assert.equal(typeof r, 'string');
  assert.doesNotMatch(String(r), /pid -1|on \?/);
  assert.match(String(r), /taking the lock/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('lock: a process killed at any point while taking a lock leaves nothing the next taker must wait out', () => {
  // The child dies (SIGKILL, no cleanup) at the first call of one file operation inside tryLock.
  const lockJs = path.join(__dirname, '../../src/runs/lock.js');
  for (const op of ['writeFileSync', 'linkSync', 'openSync', 'writeSync', 'closeSync', 'rmSync']) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `midtrain-lock-kill-${op}-`));
    const child = spawnSync(process.execPath, ['-e', `
      const fs = require('fs');
      const real = fs[${JSON.stringify(op)}];
      fs[${JSON.stringify(op)}] = function (...a) { if (String(a[0]).startsWith(${JSON.stringify(dir)}) || typeof a[0] === 'number') process.kill(process.pid, 'SIGKILL'); return real.apply(this, a); };
      const r = require(${JSON.stringify(lockJs)}).tryLock(${JSON.stringify(dir)});
      process.exit(typeof r === 'string' ? 2 : 0);`], { encoding: 'utf8' });
    const r = tryLock(dir);
    assert.ok(typeof r !== 'string', `killed in ${op} (child ${child.signal ?? child.status}): the next taker is told "${r}"`);
    r.release();
    assert.deepEqual(fs.readdirSync(dir), [], `killed in ${op}: debris left`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('messages: a sweep that waited while another process trained its run does not count it as trained here', async () => {
  const cfg = microPretrain({ name: 'micro/waited', totalSteps: 6, seed: 38 });
  const src = async () => data;
  // Hold the run's lock so "second" finds the run unfinished and waits; then "first" takes it over and trains.
  const held = tryLock(runDir(runId(cfg, data.manifestHash)));
  assert.ok(typeof held !== 'string');
  const { lines } = await capture(async () => {
    const second = runConfigs([cfg], 'second', true, src);
    await new Promise((r) => setTimeout(r, 100));
    held.release();
    const first = runConfigs([cfg], 'first', true, src); // takes the lock before second's next poll (2 s)
    return Promise.all([first, second]);
  });
  assert.ok(lines.includes('first: 1 run(s) trained, 0 already finished'), lines.join('\n'));
  assert.ok(lines.includes('second: 0 run(s) trained, 0 already finished, 1 finished by another process while this one waited'), lines.join('\n'));
});

test('resuming a run whose metrics fail their checksum stops with one line and does not vouch for them', async () => {
  const cfg = microPretrain({ name: 'micro/metrics-corrupt', totalSteps: 8, checkpointEvery: 2, seed: 39 });
  const r = await interrupted(cfg, 5);
  const file = path.join(r.dir, 'metrics.jsonl');
  const b = fs.readFileSync(file);
  const at = b.indexOf('"trainLoss":') + 13;
  b[at] = b[at] === 0x39 ? 0x38 : 0x39;
  fs.writeFileSync(file, b);
  const record = fs.readFileSync(path.join(r.dir, 'run.json'));
  await assert.rejects(getOrRun(cfg, { quiet: true, data }), new RegExp(`^Error: run ${r.id}: .*metrics\\.jsonl does not match its checksum .*; delete `));
  assert.ok(fs.readFileSync(path.join(r.dir, 'run.json')).equals(record), 'run.json untouched: it still says the metrics are corrupt');
  assert.throws(() => readMetrics(r.id), /does not match its checksum/);
});
