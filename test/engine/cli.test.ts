// The CLI's commands in-process (with in-memory data): a sweep listed children-first runs parents first,
// a second invocation trains nothing and says so, status shows lineage and curves, bad files fail in one line.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sweepCommand, statusCommand, sparkline } from '../../src/cli';
import { getRun, runId } from '../../src/runs/store';
import { setupBackend } from './helpers';
import { microData, microPretrain, microSft } from './fixtures';

let dir = '';
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-cli-'));
  process.env.MIDTRAIN_CACHE = dir;
  await setupBackend();
});

async function captured(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await f();
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

test('sweep runs parents first, skips finished runs on the next call, status shows lineage and curves', async () => {
  const data = microData();
  const base = microPretrain({ name: 'cli/base', keepCheckpointsAt: [0.5] });
  const mid = microPretrain({ name: 'cli/mid', parent: { runId: runId(base, data.manifestHash), atFraction: 0.5 }, mixture: [{ fromFraction: 0, weights: { general: 1 } }, { fromFraction: 0.5, weights: { general: 0.8, code: 0.2 } }] });
  const ft = microSft(runId(mid, data.manifestHash), { name: 'cli/sft', epochs: 1 });
  const file = path.join(dir, 'sweep.json');
  fs.writeFileSync(file, JSON.stringify({ name: 'micro', runs: [ft, mid, base] }));
  const source = async () => data;

  const first = await captured(() => sweepCommand([file], true, source));
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /3 run\(s\) trained, 0 already finished/);
  const recs = [base, mid, ft].map((c) => getRun(runId(c, data.manifestHash))!);
  assert.ok(recs.every((r) => r.status === 'finished'));
  assert.ok(recs[0].createdAt! <= recs[1].createdAt! && recs[1].createdAt! <= recs[2].createdAt!, 'parents ran first');

  const second = await captured(() => sweepCommand([file], true, source));
  assert.equal(second.code, 0);
  assert.match(second.out, /nothing to do — all 3 run\(s\) already finished/);

  const st = await captured(() => statusCommand([]));
  assert.match(st.out, /3 run\(s\) in /);
  assert.match(st.out, /cli\/base .*\[finished 12\/12\]/);
  assert.match(st.out, /└─ .*cli\/mid .*← pretrain-[0-9a-f]{16}@0\.5/);
  assert.match(st.out, /└─ .*cli\/sft .*\[finished/);
  assert.match(st.out, /train loss \d+\.\d\d [▁▂▃▄▅▆▇█]+ \d+\.\d\d/);
  assert.match(st.out, /acc \d+\.\d%/);
});

test('status lists every run past one whose record does not verify, names it, and exits 1', async () => {
  const data = microData();
  const base = microPretrain({ name: 'cli/base', keepCheckpointsAt: [0.5] });
  const id = runId(base, data.manifestHash);
  const file = path.join(dir, 'runs', id, 'run.json');
  const good = fs.readFileSync(file, 'utf8');
  try {
    fs.writeFileSync(file, good.replace('"finished"', '"finishef"'));
    const st = await captured(() => statusCommand([]));
    assert.equal(st.code, 1);
    assert.match(st.out, /2 run\(s\) in .*, and 1 that do not verify/);
    assert.match(st.out, /cli\/sft .*\[finished/, 'the runs after the bad one are still listed');
    assert.match(st.out, new RegExp(`UNREADABLE ${id}: .*run\\.json`));
  } finally {
    fs.writeFileSync(file, good);
  }
});

test('a sweep with an ill-typed field fails with one line naming it', async () => {
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, JSON.stringify({ name: 'bad', runs: [microPretrain(), { ...microPretrain(), totalStep: 5 }] }));
  await assert.rejects(sweepCommand([file], true, async () => microData()), /bad\.json\.runs\[1\]\.totalStep: unknown field/);
});

test('sparkline: first value, bars scaled to the range, last value', () => {
  assert.equal(sparkline([4, 3, 2, 1], 4), '4.00 █▆▃▁ 1.00');
});
