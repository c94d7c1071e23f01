// Agreement with the paper: verdicts computed from hand-made results with known per-seed differences.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planExperiment, BASELINE } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import type { ExperimentResult } from '../../src/experiments/result';
import type { RunRecord } from '../../src/runs/types';
import type { ExperimentName } from '../../src/experiments/definitions';
import { ciVerdict, pairedDifference, sftLossRows, forgettingRows, cptRows, timingRow, proximityRow, meanSftShift, gridRow, timingVsWeightRow } from '../../src/report/agreement';
import { Rng } from '../../src/rng';
import { meanCi } from '../../src/report/stats';
import { contentId } from '../experiments/content-id';

const tiny = scaleFor('tiny');
const scale = { ...tiny, sft: { ...tiny.sft, lrs: [1e-3], seeds: [0, 1, 2, 3] }, sftTasks: undefined };

type Fn = (model: string, task: string, seed: number, start: number, lr: number) => number;

/** Every pretraining run ends at general loss 3; SFT runs get the given SFT loss and general loss after SFT. */
function fake(name: ExperimentName, sftLoss: Fn, general: Fn, sc = scale): ExperimentResult {
  const plan = planExperiment(name, sc, 'd', contentId);
  const records: Record<string, RunRecord> = {};
  for (const r of plan.runs) {
    const f = r.branch?.startFraction ?? 0;
    const summary = r.config.kind === 'pretrain'
      ? { finalVal: { general: 3 }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' }
      : { finalVal: { sft: sftLoss(r.model, r.task!, r.seed!, f, r.lr!), general: general(r.model, r.task!, r.seed!, f, r.lr!) }, accuracy: 0, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' };
    records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd', summary };
  }
  return { plan, records, metrics: {} };
}

test('verdicts need an interval that excludes zero', () => {
  assert.equal(ciVerdict(meanCi([0.1, 0.12, 0.11]), 1), 'agrees');
  assert.equal(ciVerdict(meanCi([0.1, 0.12, 0.11]), -1), 'disagrees');
  assert.equal(ciVerdict(meanCi([0.1, -0.1, 0.05]), 1), 'inconclusive');
  assert.equal(ciVerdict(meanCi([0.1]), 1), 'inconclusive', 'one seed has no interval');
  assert.equal(ciVerdict(meanCi([]), 1), 'not run');
});

test('midtraining rows: paired by seed, in the paper’s direction per task', () => {
  // pycode: the code mixture is 0.2 better per seed (agrees); gsm: the math mixture is 0.3 worse (disagrees);
  // lima: ±0.1 alternating by seed (inconclusive). General loss after SFT: the code mixture 0.1 lower.
  const mid = fake('midtraining', (model, task, seed) => {
    const base = 2 + 0.1 * seed;
    if (model === 'code-w20-f10' && task === 'pycode') return base - 0.2 - 0.01 * seed;
    if (model === 'math-w12-f33' && task === 'gsm') return base + 0.3 + 0.01 * seed;
    if (model === 'code-w20-f10' && task === 'lima') return base + (seed % 2 ? 0.1 : -0.1);
    return base;
  }, (model, _task, seed) => 3.5 + 0.01 * seed - (model === 'code-w20-f10' ? 0.1 + 0.001 * seed : 0));
  const d = pairedDifference(mid, 'code-w20-f10', BASELINE, 'pycode', 'sftLoss');
  assert.equal(d.n, 4);
  assert.ok(Math.abs(d.mean - (-0.2 - 0.015)) < 1e-9, `paired mean ${d.mean}`);
  const rows = sftLossRows(mid);
  const verdict = (task: string) => rows.find((r) => r.comparison.startsWith(task))!.verdict;
  assert.equal(verdict('pycode'), 'agrees');
  assert.equal(verdict('gsm'), 'disagrees');
  assert.equal(verdict('lima'), 'inconclusive');
  assert.match(rows.find((r) => r.comparison.startsWith('lima'))!.why, /within seed noise/);
  const points = [{ model: 'code-w20-f10', advantage: 0.03 }, { model: 'math-w12-f33', advantage: 0.02 }, { model: 'web-quality-w20-f66', advantage: 0.01 }]
    .map((p) => ({ ...p, task: 'gsm' as const, improvement: 0 }));
  assert.match(sftLossRows(mid, points).find((r) => r.comparison.startsWith('gsm'))!.why, /proximity advantage to gsm is 0\.020, 2 of 3 mixtures/);
  const forget = forgettingRows(mid);
  // Paper: the code mixture forgets less on pycode (4.611 vs 5.058) and about the same on lima; math forgets more on gsm.
  assert.equal(forget.find((r) => r.comparison.startsWith('pycode'))!.verdict, 'agrees');
  assert.match(forget[0].why, /before SFT the gap was already \+0\.000/, 'every pretraining run ends at general loss 3 here');
  assert.equal(forget.filter((r) => r.comparison.startsWith('pycode'))[1].verdict, 'agrees', 'same parents: the change agrees too');
  assert.equal(forget.find((r) => r.comparison.startsWith('gsm'))!.verdict, 'inconclusive', 'identical forgetting has zero spread');
  assert.ok(Math.abs(meanSftShift(mid) - 0.5) < 0.1, 'general loss 3 before SFT, ~3.5 after');
});

test('CPT row compares forgetting with the same-domain mixture on that domain’s task', () => {
  const cpt = fake('cpt', () => 2, (model, _task, seed) => 3.5 + 0.01 * seed + (model.startsWith('cpt-') ? 0.2 + 0.01 * seed : 0));
  const rows = cptRows(cpt);
  // Two rows per domain: the level after SFT and the paired change over SFT, both at the mixture's best LR.
  assert.deepEqual(rows.map((r) => r.comparison.split(':')[0]), ['pycode', 'pycode', 'gsm', 'gsm']);
  assert.match(rows[0].comparison, /both at LR 0\.001, code-w20-f10’s best/);
  assert.match(rows[1].claim, /change over SFT/);
  assert.ok(rows.every((r) => r.verdict === 'agrees'));
});

test('timing row: the latest start minus the earliest, positive when earlier helps', () => {
  const timing = fake('timing', (_m, _t, seed, f) => 2 - (f > 0 ? 0.5 * (1 - f) : 0) + 0.01 * seed * f, () => 3.5);
  const row = timingRow(timing);
  assert.match(row.comparison, /start 82% − start 33%/);
  assert.equal(row.verdict, 'agrees');
  const reversed = timingRow(fake('timing', (_m, _t, seed, f) => 2 - 0.5 * f + 0.01 * seed * f, () => 3.5));
  assert.equal(reversed.verdict, 'disagrees');
});

test('proximity row: agrees only when the Fisher-z interval excludes zero', () => {
  assert.equal(proximityRow({ n: 20, r: 0.8, lo: 0.55, hi: 0.92 }).verdict, 'agrees');
  assert.equal(proximityRow({ n: 20, r: 0.2, lo: -0.25, hi: 0.58 }).verdict, 'inconclusive');
  assert.equal(proximityRow({ n: 3, r: 0.9, lo: NaN, hi: NaN }).verdict, 'inconclusive');
  assert.equal(proximityRow({ n: 20, r: -0.7, lo: -0.87, hi: -0.37 }).verdict, 'disagrees');
});

test('forgetting verdicts put both models at the baseline’s best LR, and also judge the paired change over SFT', () => {
  // The code mixture fine-tunes best at 1e-4 (the baseline at 1e-3); a smaller LR forgets less (3.2 vs 3.5),
  // so at its own best LR it would look as if it forgets less, while at the same LR it forgets 0.05 more.
  const two = { ...scale, sft: { ...scale.sft, lrs: [1e-4, 1e-3] } };
  const mid = fake('midtraining', (model, _task, seed, _f, lr) => 2 + 0.01 * seed + (model === 'code-w20-f10' ? (lr === 1e-4 ? -0.5 : 0) : (lr === 1e-4 ? 0.5 : 0)),
    (model, _task, seed, _f, lr) => (lr === 1e-4 ? 3.2 : 3.5) + 0.01 * seed * seed + (model === 'code-w20-f10' ? 0.05 : 0), two);
  const own = pairedDifference(mid, 'code-w20-f10', BASELINE, 'pycode', 'forgetting');
  assert.ok(own.lo < 0 && own.hi < 0, 'each at its own best LR the mixture seems to forget less');
  const rows = forgettingRows(mid).filter((r) => r.comparison.startsWith('pycode'));
  assert.equal(rows.length, 2);
  assert.match(rows[0].comparison, /both at LR 0\.001, baseline’s best/);
  assert.equal(rows[0].verdict, 'disagrees', 'at the same LR it forgets 0.05 more');
  assert.match(rows[0].ours, /^\+0\.050/);
  assert.equal(rows[1].verdict, 'disagrees', 'same parents’ general loss (3): the change is the same +0.05');
});

test('forgetting change removes a gap the models had before SFT', () => {
  // The mixture's pretrained general loss is 0.3 higher; SFT moves both by the same +0.5 (with seed noise):
  // the level after SFT "forgets more", the paired change is inconclusive.
  const mid = fake('midtraining', () => 2, (model, _task, seed) => 3.5 + (model === 'code-w20-f10' ? 0.3 : 0) + (seed % 2 ? 0.02 : -0.02) * (model === BASELINE ? 1 : -1));
  for (const r of mid.plan.runs) if (r.config.kind === 'pretrain' && r.model === 'code-w20-f10') mid.records[r.id].summary!.finalVal.general = 3.3;
  const rows = forgettingRows(mid).filter((r) => r.comparison.startsWith('pycode'));
  assert.equal(rows[0].verdict, 'disagrees', 'level: +0.3 after SFT');
  assert.equal(rows[1].verdict, 'inconclusive', 'change: 0 ± noise');
});

/** Grid / ablation fakes: SFT loss of start f and weight w, plus per-seed noise. */
function ablation(name: ExperimentName, loss: (f: number, w: number, seed: number) => number): ExperimentResult {
  const sc = { ...scale, grid: { timings: [0.33, 0.82], weights: [0.2, 0.5] } };
  const plan = planExperiment(name, sc, 'd', contentId);
  const records: Record<string, RunRecord> = {};
  for (const r of plan.runs) {
    const summary = r.config.kind === 'pretrain'
      ? { finalVal: { general: 3 }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' }
      : { finalVal: { sft: loss(r.branch?.startFraction ?? 0, r.branch?.weight ?? 0, r.seed!), general: 3.5 }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' };
    records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd', summary };
  }
  return { plan, records, metrics: {} };
}

test('grid row: w_high − w_low at the late start, paired by seed — planted found, null inconclusive', () => {
  const noise = (seed: number) => [0.05, -0.03, 0.02, -0.04][seed];
  // Planted: at the late start more weight costs 0.2 (per seed, on top of shared noise).
  const planted = gridRow(ablation('grid', (f, w, seed) => 2 + noise(seed) + (f > 0.8 && w > 0.3 ? 0.2 + 0.01 * seed : 0)));
  assert.match(planted.comparison, /weight 50% − 20%, start 82%/);
  assert.equal(planted.verdict, 'agrees');
  assert.match(planted.why, /interaction/);
  // Like with like: a late start that is worse at every weight (fewer domain tokens) says nothing about weight.
  const lateWorse = gridRow(ablation('grid', (f, _w, seed) => 2 + noise(seed) + (f > 0.8 ? 0.3 : 0) + 0.001 * seed * seed));
  assert.notEqual(lateWorse.verdict, 'agrees', lateWorse.ours);
  const helps = gridRow(ablation('grid', (f, w, seed) => 2 + noise(seed) - (f > 0.8 && w > 0.3 ? 0.2 + 0.01 * seed : 0)));
  assert.equal(helps.verdict, 'disagrees');
  const rng = new Rng(9);
  const table = Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => 0.05 * rng.normal()));
  let i = 0;
  const cellIndex = new Map<string, number>();
  const nul = gridRow(ablation('grid', (f, w, seed) => { const k = `${f}/${w}`; if (!cellIndex.has(k)) cellIndex.set(k, i++ % 4); return 2 + table[cellIndex.get(k)!][seed]; }));
  assert.notEqual(nul.verdict, 'agrees', `independent noise: ${nul.ours}`);
});

test('timing vs weight: per-seed spreads compared with an interval, domain tokens stated', () => {
  const t = ablation('timing', (f, _w, seed) => 2 + 0.5 * f + 0.01 * seed);
  const w = ablation('weight', (_f, wt, seed) => 2 + 0.05 * wt + 0.01 * seed * wt);
  const row = timingVsWeightRow(t, w);
  assert.equal(row.verdict, 'agrees', row.ours);
  assert.match(row.why, /domain tokens seen .* start axis \d+–\d+%, weight axis \d+–\d+%/);
  assert.equal(timingVsWeightRow(w.plan.experiment.name === 'weight' ? ablation('timing', (f, _w, s) => 2 + 0.01 * f + 0.001 * s) : t, ablation('weight', (_f, wt, s) => 2 + 0.5 * wt + 0.01 * s)).verdict, 'disagrees');
});

test('proximity row: the verdict uses the mixture-bootstrap interval when given, Spearman shown', () => {
  const boot = { n: 20, clusters: 5, pearson: { r: 0.8, lo: -0.2, hi: 0.95 }, spearman: { r: 0.7, lo: -0.1, hi: 0.9 }, resamples: 2000, level: 0.95 };
  const row = proximityRow({ n: 20, r: 0.8, lo: 0.55, hi: 0.92 }, boot);
  assert.equal(row.verdict, 'inconclusive', 'Fisher z excludes zero, the bootstrap over 5 mixtures does not');
  assert.match(row.ours, /bootstrap over 5 mixtures.*Spearman ρ = 0\.700/);
  assert.equal(proximityRow({ n: 20, r: 0.8, lo: 0.55, hi: 0.92 }, { ...boot, pearson: { r: 0.8, lo: 0.3, hi: 0.95 } }).verdict, 'agrees');
});

test('headline rows with pretraining seeds: the interval is over pretraining seeds, paired by (pretraining, SFT) seed', () => {
  const seeded = { ...scale, pretrain: { ...scale.pretrain, extraSeeds: [1, 2] } };
  // Each pretrained model has its own level (0.3 per pretraining seed, shared by baseline and mixture); the code
  // mixture is 0.1 better per run with noise: pairing removes the pretraining level.
  const mid = fake('midtraining', (model, task, seed) => 2 + 0.01 * seed + (model === 'code-w20-f10' && task === 'pycode' ? -0.1 + 0.005 * seed : 0), () => 3.5, seeded);
  for (const r of mid.plan.runs) {
    if (r.config.kind === 'sft') mid.records[r.id].summary!.finalVal.sft! += 0.3 * r.pretrainSeed;
  }
  const row = sftLossRows(mid).find((r) => r.comparison.startsWith('pycode'))!;
  assert.equal(row.verdict, 'agrees');
  assert.match(row.ours, /3 pre × 4 SFT seeds/);
  const d = pairedDifference(mid, 'code-w20-f10', BASELINE, 'pycode', 'loss');
  assert.equal(d.unit, 'pretraining');
  assert.equal(d.n, 3);
  assert.ok(Math.abs(d.mean - (-0.1 + 0.0075)) < 1e-9, `paired mean ${d.mean}`);
});
