// Unit tests of the pure half of the Slurm scale-out (src/runs/slurm-plan.ts, resolveState in slurm.ts):
// which runs get submitted, grouped how, waiting on what, and the exact sbatch script text.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  latestTasks, parseSacct, parseSbatchJobId, parseSqueue, planSlurm, sbatchScript, slurmTimeSeconds, defaultSignalSeconds,
  type RunTask, type StoreView, type Sweep,
} from '../../src/runs/slurm-plan';
import { resolveState } from '../../src/runs/slurm';
import type { RunConfig, RunStatus } from '../../src/runs/types';
import { pre, sft } from './configs';

/** A store whose run id is "id-<name>" and whose statuses are given. */
function store(status: Record<string, RunStatus> = {}): StoreView {
  return { idOf: (c: RunConfig) => `id-${c.name}`, statusOf: (id: string) => status[id.replace(/^id-/, '')] };
}
const names = (runs: { config: RunConfig }[]) => runs.map((r) => r.config.name);

// A pretraining run A with two SFT children, a midtraining branch B of A, and B's SFT child.
const sweep: Sweep = { name: 'demo', runs: [pre('A'), sft('a1', 'A'), sft('a2', 'A'), pre('B', 'A'), sft('b1', 'B')] };

test('fresh sweep: one array per parent, children wait on their parent task', () => {
  const plan = planSlurm(sweep, store());
  assert.deepEqual(plan.groups.map((g) => [g.name, names(g.runs), g.after]), [
    ['g0', ['A'], undefined],
    ['g1', ['a1', 'a2', 'B'], { group: 0, task: 0 }],
    ['g2', ['b1'], { group: 1, task: 2 }],
  ]);
  assert.deepEqual(plan.skipped, []);
  assert.deepEqual(plan.stale, []);
});

test('a finished parent satisfies the dependency: its children become roots', () => {
  const plan = planSlurm(sweep, store({ A: 'finished' }));
  assert.deepEqual(plan.groups.map((g) => [names(g.runs), g.after]), [
    [['a1', 'a2', 'B'], undefined],
    [['b1'], { group: 0, task: 2 }],
  ]);
  assert.deepEqual(plan.skipped, [{ id: 'id-A', name: 'A', reason: 'finished' }]);
});

test('a parent queued by an earlier submission: children wait on that Slurm task', () => {
  const tasks = new Map<string, RunTask>([['id-A', { jobId: '7', taskId: 0, state: 'RUNNING', reason: 'None' }]]);
  const plan = planSlurm(sweep, store({ A: 'running' }), tasks);
  assert.deepEqual(plan.skipped, [{ id: 'id-A', name: 'A', reason: 'queued', slurm: '7_0' }]);
  assert.deepEqual(plan.groups.map((g) => [names(g.runs), g.after]), [
    [['a1', 'a2', 'B'], { slurm: { jobId: '7', taskId: 0 } }],
    [['b1'], { group: 0, task: 2 }],
  ]);
});

test('a finished sweep plans nothing (a second submission submits nothing)', () => {
  const all = { A: 'finished', a1: 'finished', a2: 'finished', B: 'finished', b1: 'finished' } as const;
  const plan = planSlurm(sweep, store(all));
  assert.deepEqual(plan.groups, []);
  assert.equal(plan.skipped.length, 5);
});

test('resubmission: only failed, lost and blocked runs; blocked tasks are cancelled', () => {
  const tasks = latestTasks(
    [
      { jobId: '8', sweep: 'demo', runIds: ['id-a1', 'id-b1'], dir: '/x', configs: [], submittedAt: '' },
      { jobId: '9', sweep: 'demo', runIds: ['id-a2'], dir: '/x', configs: [], submittedAt: '' },
    ],
    parseSqueue('8|0|FAILED|NonZeroExitCode\n8|1|PENDING|DependencyNeverSatisfied\n9|0|PENDING|Priority\n'),
  );
  const plan = planSlurm(sweep, store({ A: 'finished', a1: 'failed', B: 'running' }), tasks);
  // B is "running" in the store but has no Slurm task alive: an interrupted run, resubmitted (it resumes).
  assert.deepEqual(plan.groups.map((g) => [names(g.runs), g.after]), [
    [['a1', 'B'], undefined],
    [['b1'], { group: 0, task: 1 }],
  ]);
  assert.deepEqual(plan.skipped.map((s) => [s.name, s.reason, s.slurm]), [['A', 'finished', undefined], ['a2', 'queued', '9_0']]);
  assert.deepEqual(plan.stale, [{ jobId: '8', taskId: 1 }]);
});

test('a parent neither in the sweep, finished nor queued is a one-line error', () => {
  assert.throws(
    () => planSlurm({ name: 'orphans', runs: [sft('x1', 'X')] }, store()),
    /^Error: slurm: sweep "orphans": run "x1" \(id-x1\) needs parent id-X, which is not in the sweep, not finished in the store and not queued in Slurm \(ids computed with other data or code\? regenerate the sweep\)$/,
  );
  assert.throws(() => planSlurm({ name: 'bad', runs: [{ kind: 'eval' } as unknown as RunConfig] }, store()), /runs\[0\]\.kind must be "pretrain" or "sft"/);
});

test('duplicate configs are planned once', () => {
  const plan = planSlurm({ name: 'dup', runs: [pre('A'), pre('A'), sft('a1', 'A')] }, store());
  assert.deepEqual(plan.groups.map((g) => names(g.runs)), [['A'], ['a1']]);
});

test('latestTasks: a resubmission (higher job id) supersedes the older task', () => {
  const tasks = latestTasks(
    [
      { jobId: '12', sweep: 's', runIds: ['r'], dir: '', configs: [], submittedAt: '' },
      { jobId: '3', sweep: 's', runIds: ['q', 'r'], dir: '', configs: [], submittedAt: '' },
    ],
    [{ jobId: '3', taskId: 1, state: 'FAILED', reason: 'None' }],
  );
  assert.deepEqual(tasks.get('r'), { jobId: '12', taskId: 0 });
  assert.deepEqual(tasks.get('q'), { jobId: '3', taskId: 0 });
});

test('sbatch script: array, dependency, resources, requeue on USR1, the same CLI per task', () => {
  const plan = planSlurm(sweep, store({ A: 'finished', B: 'finished', b1: 'finished' }));
  const text = sbatchScript({
    sweep: 'demo sweep', group: plan.groups[0], dir: '/shared/cache/slurm/submissions/demo', logDir: '/shared/cache/slurm/logs',
    dependency: 'afterok:41_0', cacheRoot: "/shared/it's cache", runCommand: ['/opt/node/bin/node', '/shared/midtrain/dist/src/cli.js', 'run'],
    partition: 'gpu', gpusPerRun: 1, time: '4:00:00', maxParallel: 8, extraSbatch: ['--constraint=h100'],
  });
  assert.equal(text, [
    '#!/bin/bash',
    '#SBATCH --job-name=midtrain-demo-sweep-g0',
    '#SBATCH --array=0-1%8',
    '#SBATCH --output=/shared/cache/slurm/logs/%A_%a.log',
    '#SBATCH --open-mode=append',
    '#SBATCH --requeue',
    '#SBATCH --signal=B:USR1@300',
    '#SBATCH --ntasks=1',
    '#SBATCH --gres=gpu:1',
    '#SBATCH --time=4:00:00',
    '#SBATCH --partition=gpu',
    '#SBATCH --dependency=afterok:41_0',
    '#SBATCH --kill-on-invalid-dep=yes',
    '#SBATCH --constraint=h100',
    '# midtrain sweep "demo sweep", group g0: 2 run(s), written by src/runs/slurm-plan.ts.',
    '#   0: "a1" (id-a1)',
    '#   1: "a2" (id-a2)',
    'set -euo pipefail',
    `export MIDTRAIN_CACHE='/shared/it'\\''s cache'`,
    'task="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
    'config="/shared/cache/slurm/submissions/demo/g0.${SLURM_ARRAY_TASK_ID}.json"',
    'echo "midtrain: task $task attempt ${SLURM_RESTART_COUNT:-0} on $(hostname) at $(date -u +%FT%TZ): $config"',
    '# Near the time limit: stop the run (it resumes from its checkpoint) and requeue this task.',
    'on_usr1() {',
    '  echo "midtrain: task $task near its time limit: stopping the run and requeueing"',
    '  kill -TERM "$child" 2>/dev/null || true',
    '  wait "$child" || true',
    '  scontrol requeue "$task"',
    '  exit 0',
    '}',
    'trap on_usr1 USR1',
    '/opt/node/bin/node /shared/midtrain/dist/src/cli.js run "$config" &',
    'child=$!',
    'wait "$child"',
    '',
  ].join('\n'));
});

test('sbatch script: a folder the script cannot carry is a one-line error', () => {
  const group = planSlurm(sweep, store()).groups[0];
  const input = { sweep: 's', group, logDir: '/l', cacheRoot: '/c', runCommand: ['node'] };
  assert.throws(() => sbatchScript({ ...input, dir: '/my cache/x' }), /^Error: slurm: dir "\/my cache\/x" has spaces, quotes, \$ or \\; use a MIDTRAIN_CACHE path without them$/);
  assert.throws(() => sbatchScript({ ...input, dir: '/d', logDir: '/a$b' }), /slurm: logDir "\/a\$b" has spaces/);
});

test('slurm time parsing and the USR1 warning time', () => {
  assert.equal(slurmTimeSeconds('30'), 1800);
  assert.equal(slurmTimeSeconds('5:30'), 330);
  assert.equal(slurmTimeSeconds('4:00:00'), 14400);
  assert.equal(slurmTimeSeconds('2-12'), 216000);
  assert.equal(slurmTimeSeconds('1-00:30'), 88200);
  assert.equal(slurmTimeSeconds('1-00:00:10'), 86410);
  assert.throws(() => slurmTimeSeconds('4h'), /--time "4h": expected/);
  assert.equal(defaultSignalSeconds(undefined), 300);
  assert.equal(defaultSignalSeconds('10'), 60);
  assert.equal(defaultSignalSeconds('1'), 30);
  assert.equal(defaultSignalSeconds('4:00:00'), 300);
});

test('sbatch and squeue output parsing', () => {
  assert.equal(parseSbatchJobId('1234\n'), '1234');
  assert.equal(parseSbatchJobId('1234;cluster\n'), '1234');
  assert.throws(() => parseSbatchJobId('sbatch: error: Batch job submission failed'), /sbatch printed no job id/);
  assert.deepEqual(parseSqueue('5|0|RUNNING|None\n6|N/A|PENDING|Resources\n5|1|PENDING|Dependency\n\n'), [
    { jobId: '5', taskId: 0, state: 'RUNNING', reason: 'None' },
    { jobId: '5', taskId: 1, state: 'PENDING', reason: 'Dependency' },
  ]);
});

test('sacct output parsing (end states of tasks squeue forgot)', () => {
  assert.deepEqual(parseSacct('12_0|COMPLETED\n12_1|CANCELLED by 0\n12_[2-3]|PENDING\n13|FAILED\n12_4|OUT_OF_MEMORY\n'), [
    { jobId: '12', taskId: 0, state: 'COMPLETED', reason: 'None' },
    { jobId: '12', taskId: 1, state: 'CANCELLED', reason: 'None' },
    { jobId: '12', taskId: 4, state: 'OUT_OF_MEMORY', reason: 'None' },
  ]);
});

test('status: store state refined by the Slurm task', () => {
  const t = (state?: string, reason = 'None'): RunTask => ({ jobId: '5', taskId: 2, ...(state ? { state, reason } : {}) });
  assert.deepEqual(resolveState('finished', t('RUNNING')), { state: 'finished', detail: 'finished' });
  assert.deepEqual(resolveState(undefined, t('PENDING', 'Dependency')), { state: 'pending', detail: 'queued (Dependency)' });
  assert.deepEqual(resolveState('running', t('RUNNING')), { state: 'running', detail: 'slurm RUNNING' });
  assert.deepEqual(resolveState('pending', t('REQUEUED', 'BeginTime')), { state: 'pending', detail: 'queued (BeginTime)' });
  assert.deepEqual(resolveState(undefined, t('PENDING', 'DependencyNeverSatisfied')).state, 'failed');
  assert.deepEqual(resolveState('failed', t('FAILED', 'NonZeroExitCode')), { state: 'failed', detail: 'failed (slurm FAILED)' });
  assert.deepEqual(resolveState('running', t('TIMEOUT')), { state: 'failed', detail: 'slurm TIMEOUT' });
  assert.deepEqual(resolveState('running', t()), { state: 'failed', detail: 'slurm task 5_2 ended without finishing the run' });
  assert.deepEqual(resolveState('running', undefined), { state: 'running', detail: 'running (per the store)' });
  assert.deepEqual(resolveState(undefined, undefined), { state: 'pending', detail: 'not submitted' });
});

test('status without a readable queue: the store alone decides, the table says why', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { sweepStatus, formatSweepStatus, slurmDir } = await import('../../src/runs/slurm');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-slurm-status-'));
  const prevPath = process.env.PATH;
  try {
    // A ledger entry says job 5 ran A (task 0) and a1 (task 1); no squeue on PATH.
    fs.mkdirSync(path.join(slurmDir(root), 'jobs'), { recursive: true });
    fs.writeFileSync(path.join(slurmDir(root), 'jobs', '5.json'), JSON.stringify({ jobId: '5', sweep: 'demo', runIds: ['id-A', 'id-a1'], dir: '/x', configs: [], submittedAt: '' }));
    fs.mkdirSync(path.join(slurmDir(root), 'logs'));
    fs.writeFileSync(path.join(slurmDir(root), 'logs', '5_1.log'), 'line 1\nTraceback: boom\n');
    process.env.PATH = '/nonexistent';
    const st = await sweepStatus(sweep, { store: store({ A: 'running', a1: 'failed' }), cacheRoot: root });
    assert.equal(st.squeueError, 'squeue not found (no Slurm client here)');
    assert.deepEqual(st.runs.map((r) => [r.name, r.state, r.detail, r.slurm ?? '-']), [
      ['A', 'running', 'running (per the store)', '5_0'],
      ['a1', 'failed', 'failed', '5_1'],
      ['a2', 'pending', 'not submitted', '-'],
      ['B', 'pending', 'not submitted', '-'],
      ['b1', 'pending', 'not submitted', '-'],
    ]);
    assert.deepEqual(st.runs[1].logTail, ['line 1', 'Traceback: boom']);
    assert.equal(formatSweepStatus(st), [
      'sweep demo: 0 finished, 1 running, 3 pending, 1 failed',
      '(squeue unavailable: squeue not found (no Slurm client here); states from the run store only)',
      'state    run  id     slurm  detail',
      'running  A    id-A   5_0    running (per the store)',
      'failed   a1   id-a1  5_1    failed',
      'pending  a2   id-a2  -      not submitted',
      'pending  B    id-B   -      not submitted',
      'pending  b1   id-b1  -      not submitted',
      '',
      `--- a1 (id-a1) ${path.join(slurmDir(root), 'logs', '5_1.log')}:`,
      '  line 1',
      '  Traceback: boom',
    ].join('\n'));
  } finally {
    process.env.PATH = prevPath;
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('dry run: scripts and per-task configs are written, nothing is submitted or recorded', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { submitSweep, slurmDir, readLedger } = await import('../../src/runs/slurm');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-slurm-dry-'));
  try {
    const res = await submitSweep(sweep, { store: store({ A: 'finished' }), cacheRoot: root, dryRun: true, runCommand: ['node', 'cli.js', 'run'], time: '1:00:00' });
    assert.deepEqual(res.jobs.map((j) => [j.jobId, j.names, j.dependency]), [
      ['dry-run-g0', ['a1', 'a2', 'B'], undefined],
      ['dry-run-g1', ['b1'], 'afterok:dry-run-g0_2'],
    ]);
    const dir = path.dirname(res.jobs[1].script);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['g0.0.json', 'g0.1.json', 'g0.2.json', 'g0.sh', 'g1.0.json', 'g1.sh']);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'g0.2.json'), 'utf8')), sweep.runs[3]);
    assert.match(fs.readFileSync(res.jobs[1].script, 'utf8'), /^#SBATCH --dependency=afterok:dry-run-g0_2$/m);
    assert.match(fs.readFileSync(res.jobs[1].script, 'utf8'), /^#SBATCH --signal=B:USR1@300$/m);
    assert.equal(fs.statSync(res.jobs[0].script).mode & 0o111, 0o111);
    assert.deepEqual(readLedger(slurmDir(root)), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
