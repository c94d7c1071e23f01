// Tables and figures from a hand-made experiment result with known numbers (no training).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planExperiment, BASELINE } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import type { ExperimentResult } from '../../src/experiments/result';
import type { RunRecord, StepLog } from '../../src/runs/types';
import { sftCells, sftConvergence, sftTable, sftTableView, bestLrs, sftRunRows, gridTable, paperComparisonRows, pretrainTable, intervalCaption, captionOf } from '../../src/report/tables';
import { pretrainCurves, sftCurves, lossVsForgetting, ablationLines, gridHeatmap, proximityScatter, domainCurves, metricBars, roleCurves, sftCurvesGrid, matmulSpeedFigure } from '../../src/report/figures';
import { describeRunSources, convergenceWords, describeBaseline } from '../../src/report/findings';
import { describeMatmulSpeed } from '../../src/backend/matmul-speed';
import { pearson, wilson } from '../../src/report/stats';
import { describeAccuracy } from '../../src/report/findings';
import { contentId } from '../experiments/content-id';

const tiny = scaleFor('tiny');
const scale = { ...tiny, sft: { ...tiny.sft, lrs: [1e-4, 1e-3], seeds: [0, 1, 2] } };

/**
 * Known numbers: the baseline's pycode SFT loss is 2.0 + 0.1·seed at lr 1e-3 (and 0.5 worse at 1e-4);
 * the branch starting at fraction f has loss (2.0 − f) + 0.1·seed at lr 1e-3. Forgetting = 4 + f; accuracy = f.
 */
function fakeResult(name: 'timing' | 'midtraining' = 'timing', branchLogsFromStart = true): ExperimentResult {
  const plan = planExperiment(name, scale, 'd', contentId);
  const records: Record<string, RunRecord> = {};
  const metrics: Record<string, StepLog[]> = {};
  for (const r of plan.runs) {
    const f = r.branch?.startFraction ?? 0;
    if (r.config.kind === 'pretrain') {
      records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd',
        summary: { finalVal: { general: 3 + f, code: 3 - f }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' } };
      const start = Math.round(f * r.config.totalSteps);
      const steps = branchLogsFromStart || !r.branch ? [start, r.config.totalSteps] : [r.config.totalSteps];
      metrics[r.id] = steps.map((step) => ({ step, tokens: 0, lr: 0, trainLoss: 4, val: { general: 5 - step / 100, code: 5, math: 6 - step / 50 } }));
    } else {
      const sft = (r.lr === 1e-3 ? 2.0 - f : 2.5 - f) + 0.1 * r.seed!;
      records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd',
        summary: { finalVal: { sft, general: 4 + f }, accuracy: f, accuracyCounts: { correct: Math.round(100 * f), n: 100, dropped: 0, method: 'generate' }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' } };
      metrics[r.id] = [1, 2, 4].map((step) => ({ step, tokens: 0, lr: 0, trainLoss: 3, val: { sft: sft + 1 - step / 4, general: 4 + f + step / 10 } }));
    }
  }
  return { plan, records, metrics };
}

test('best LR per cell is the one with the lowest mean SFT val loss', () => {
  const rows = sftRunRows(fakeResult());
  assert.equal(rows.length, 5 * 2 * 3);
  const best = bestLrs(rows);
  assert.equal(best.get(`${BASELINE}\u0000pycode`), 1e-3);
  assert.equal(best.get('code-w20-f33\u0000pycode'), 1e-3);
});

test('headline cells: mean ± t-CI over seeds, relative improvement paired by seed', () => {
  const cells = sftCells(fakeResult());
  assert.equal(cells.length, 5);
  const base = cells.find((c) => c.model === BASELINE)!;
  assert.equal(base.seeds, 3);
  assert.ok(Math.abs(base.sftLoss.mean - 2.1) < 1e-12);
  // sd of {2.0, 2.1, 2.2} = 0.1; half width = t(0.975, 2)·0.1/√3 = 4.3027·0.0577 = 0.2484
  assert.ok(Math.abs(base.sftLoss.halfWidth - 0.24841) < 1e-4, `half width ${base.sftLoss.halfWidth}`);
  const early = cells.find((c) => c.model === 'code-w20-f33')!;
  // per seed s: (2 + 0.1s − (1.67 + 0.1s)) / (2 + 0.1s) → mean of 0.33/2.0, 0.33/2.1, 0.33/2.2
  const expected = (0.33 / 2.0 + 0.33 / 2.1 + 0.33 / 2.2) / 3;
  assert.ok(Math.abs(early.relImprovement.mean - expected) < 1e-9);
  assert.ok(Math.abs(early.forgetting.mean - 4.33) < 1e-9);
  // Accuracy pools the cell's scored examples (3 seeds × 33 of 100) with a Wilson interval.
  assert.ok(Math.abs(early.accuracy.mean - 0.33) < 1e-9);
  assert.equal(early.accuracy.scored, 300);
  const w = wilson(99, 300);
  assert.ok(Math.abs(early.accuracy.lo - w.lo) < 1e-12 && Math.abs(early.accuracy.hi - w.hi) < 1e-12);
  assert.equal(early.accuracy.status, 'ok');
  assert.equal(base.accuracy.status, 'at floor', 'nothing correct: at floor, not a finding');
  assert.equal(early.startFraction, 0.33);
  assert.equal(base.relImprovement.mean, 0);
  assert.equal(base.sftLoss.unit, 'sft', 'one pretraining seed: the interval is over SFT seeds');
  assert.equal(base.lrAtEdge, true, 'the best LR 1e-3 is the largest swept');
  assert.equal(base.testLoss.n, 0, 'no test split measured');
  assert.match(intervalCaption(cells), /edge.*val loss it was chosen on.*3 SFT seeds of one pretrained model.*Wilson/);
});

test('LR chosen on val, loss reported on test; sciq at chance; nested seeds with pretraining seeds', () => {
  // Three LRs, the middle one best on val; test loss differs from val (it is what the tables report).
  const sc = { ...tiny, sftTasks: undefined, pretrain: { ...tiny.pretrain, extraSeeds: [1, 2] }, sft: { ...tiny.sft, lrs: [1e-4, 1e-3, 1e-2], seeds: [0, 1] } };
  const plan = planExperiment('midtraining', sc, 'd', contentId);
  const records: Record<string, RunRecord> = {};
  for (const r of plan.runs) {
    const summary = r.config.kind === 'pretrain'
      ? { finalVal: { general: 3 + 0.1 * r.pretrainSeed }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' }
      : {
        finalVal: { sft: 2 + (r.lr === 1e-3 ? 0 : 0.5) + 0.01 * r.seed! + 0.1 * r.pretrainSeed - (r.model === 'code-w20-f10' ? 0.2 : 0), general: 3.5 + 0.1 * r.pretrainSeed },
        test: { sft: 2.3 + 0.01 * r.seed! + 0.1 * r.pretrainSeed - (r.model === 'code-w20-f10' ? 0.2 : 0), examples: 50 },
        accuracy: 0.26, accuracyCounts: { correct: 52, n: 200, dropped: 0, method: 'loglik' as const }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu',
      };
    records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd', summary };
  }
  const cells = sftCells({ plan, records, metrics: {} });
  const code = cells.find((c) => c.model === 'code-w20-f10' && c.task === 'pycode')!;
  assert.equal(code.bestLr, 1e-3);
  assert.equal(code.lrAtEdge, false);
  assert.ok(Math.abs(code.testLoss.mean - (2.1 + 0.005 + 0.1)) < 1e-9, `test loss ${code.testLoss.mean}`);
  assert.equal(code.sftLoss.unit, 'pretraining');
  assert.equal(code.sftLoss.n, 3);
  assert.equal(code.sftLoss.sftSeeds, 2);
  assert.equal(code.seeds, 6);
  // Relative improvement uses the test loss, paired with the baseline's run of the same pretraining and SFT seed.
  assert.equal(code.relImprovement.unit, 'pretraining');
  assert.ok(code.relImprovement.lo > 0);
  const lima = cells.find((c) => c.model === 'code-w20-f10' && c.task === 'lima')!;
  assert.equal(lima.sftLoss.unit, 'sft', 'lima is fine-tuned at the main pretraining seed only');
  const sciq = cells.find((c) => c.model === BASELINE && c.task === 'sciq')!;
  assert.equal(sciq.accuracy.status, 'at chance', '26% of 200 is within noise of 4-option chance');
  assert.equal(sciq.accuracy.method, 'loglik');
  const view = sftTableView({ plan, records, metrics: {} }).objects() as Record<string, unknown>[];
  assert.match(String(view.find((v) => v.model === 'code-w20-f10' && v.task === 'pycode')!.seeds), /3 pre × 2 SFT/);
  assert.match(captionOf(sftTableView({ plan, records, metrics: {} }))!, /held-out test split.*over 3 pretraining seeds \(each the mean of 2 SFT seeds\)/);
});

test('arquero tables hold the cells; the view formats mean ± CI', () => {
  const r = fakeResult();
  const t = sftTable(r);
  assert.equal(t.numRows(), 5);
  assert.ok(t.columnNames().includes('relImprovementLo'));
  const view = sftTableView(r).objects() as Record<string, unknown>[];
  assert.equal(view[0]['SFT val loss'], '2.100 ± 0.248');
  assert.equal(view[0]['best LR (on val)'], '0.001 (edge)');
  const pre = pretrainTable(r).objects() as Record<string, unknown>[];
  assert.equal(pre.length, 5);
  assert.equal(pre[1]['val code'], 2.67);
  const grid = gridTable(r).objects() as Record<string, unknown>[];
  assert.deepEqual(grid.map((g) => g.start), ['33%', '49%', '66%', '82%']);
});

test('paper comparison puts the paper’s 410M numbers beside ours', () => {
  const rows = paperComparisonRows(sftCells(fakeResult()));
  const pyStar = rows.find((r) => r.task === 'pycode' && r.mixture === 'Starcoder')!;
  assert.equal(pyStar['paper SFT loss (410M)'], 2.091);
  assert.equal(pyStar['paper rel. improvement %'], 7.6);
  assert.equal(pyStar['ours SFT loss (test)'], '', 'the timing experiment has no code-w20-f10 model');
  const pyBase = rows.find((r) => r.task === 'pycode' && r.mixture === 'C4-only')!;
  assert.equal(pyBase['ours SFT loss (test)'], 2.1, 'no test split measured: the val loss');
});

test('figures: one trace per run, starts marked, error bars, heatmap cells', () => {
  const r = fakeResult();
  const curves = pretrainCurves(r);
  assert.equal(curves.data.length, 5);
  assert.equal((curves.layout.shapes as unknown[]).length, 4, 'one start marker per branch');
  const T = scale.pretrain.totalSteps;
  assert.deepEqual((curves.data[1] as { x: number[] }).x, [Math.round(0.33 * T), T], 'a branch logs from its start to the end of the schedule');
  const forgetting = sftCurves(r, 'pycode');
  assert.equal(forgetting.data.length, 5);
  // Step 0 is the pretrained model's general val loss (same eval tokens), then the SFT evals.
  assert.deepEqual((forgetting.data[0] as { x: number[] }).x, [0, 1, 2, 4]);
  assert.deepEqual((forgetting.data[0] as { y: number[] }).y, [3, 4.1, 4.2, 4.4]);
  const scatter = lossVsForgetting(r);
  assert.equal(scatter.data.length, 5 + 1, 'a trace per model and a legend entry for the one task');
  const timing = ablationLines(r, 'startFraction');
  assert.deepEqual((timing.data[0] as { x: number[] }).x, [33, 49, 66, 82]);
  assert.deepEqual((timing.layout.xaxis as { ticktext: string[] }).ticktext, ['33%', '49%', '66%', '82%'], 'ticks at the starts measured');
  const heat = gridHeatmap(r);
  assert.deepEqual((heat.data[0] as { y: string[] }).y, ['33%', '49%', '66%', '82%']);
  const points = [0.1, 0.2, 0.3, 0.4].map((a, i) => ({ model: `m${i}`, task: 'pycode' as const, advantage: a, improvement: a / 2 }));
  const corr = pearson(points.map((p) => p.advantage), points.map((p) => p.improvement));
  const prox = proximityScatter(points, corr);
  assert.match(String((prox.layout.title as { text: string }).text), /r = 1\.000/);
  assert.equal(prox.data.length, 4 + 1 + 1, 'a trace per mixture, a legend entry per task, the least-squares line');
  assert.equal(prox.data.reduce((n, t) => n + (t.y as (number | null)[]).filter((y) => y !== null).length, 0), 4 + 2, 'the four points (and the line\'s two ends)');
});

test('a late branch is drawn from its branch point, in its role\'s colour, beside the baseline\'s dashed line of that colour', () => {
  const r = fakeResult('midtraining', false);
  const T = scale.pretrain.totalSteps;
  const late = r.plan.runs.find((p) => p.config.kind === 'pretrain' && p.branch?.role === 'math')!;
  const k = Math.round(late.branch!.startFraction * T);
  const general = pretrainCurves(r).data.find((t) => t.name === late.model) as { x: number[]; y: number[]; marker: { symbol: string[] } };
  assert.deepEqual(general.x, [k, T], 'the branch point, then its own eval: a line, not a dot');
  // The baseline logged 5 − step/100 at 0 and T; at the branch step it was (linearly) 5 − k/100.
  assert.ok(Math.abs(general.y[0] - (5 - k / 100)) < 1e-12);
  assert.deepEqual(general.marker.symbol, ['circle-open', 'circle'], 'the borrowed point is marked open');
  const domain = domainCurves(r);
  const base = domain.data.find((t) => t.name === 'baseline on math') as { line: { color: string; dash: string } };
  const branch = domain.data.find((t) => t.name === `${late.model} on math`) as { line: { color: string }; x: number[]; y: number[] };
  assert.equal(base.line.dash, 'dash');
  assert.equal(base.line.color, branch.line.color, 'a mixture and the baseline on its domain share a colour');
  const colours = new Set(domain.data.filter((t) => String(t.name).startsWith('baseline on')).map((t) => (t.line as { color: string }).color));
  assert.equal(colours.size, domain.data.filter((t) => String(t.name).startsWith('baseline on')).length, 'one colour per role');
  assert.ok(Math.abs(branch.y[0] - (6 - k / 50)) < 1e-12, 'the own-domain curve starts from the baseline\'s math loss at the branch step');
  const pre = pretrainCurves(r).data.find((t) => t.name === late.model) as { line: { color: string } };
  assert.equal(pre.line.color, branch.line.color, 'the same model has the same colour in every figure of an experiment');
});

test('loss vs forgetting: no text labels to pile up; hover names model and task; symbols per task in the legend', () => {
  const fig = lossVsForgetting(fakeResult());
  for (const t of fig.data) assert.ok(!String(t.mode).includes('text'), `${t.name}: markers only`);
  const model = fig.data[1] as { text: string[]; hovertemplate: string };
  assert.match(model.text[0], / → pycode$/);
  assert.match(model.hovertemplate, /%\{text\}/);
  assert.deepEqual(fig.data.filter((t) => String(t.name).startsWith('task: ')).map((t) => t.name), ['task: pycode']);
});

test('every figure builder says under it what to look at and which way is better', () => {
  const r = fakeResult('midtraining');
  const figs = {
    pretrainCurves: pretrainCurves(r), domainCurves: domainCurves(r), sftCurves: sftCurves(r, 'pycode'), sftCurvesGrid: sftCurvesGrid(r, 'sft'),
    lossVsForgetting: lossVsForgetting(r), roleCurves: roleCurves(r), ablationLines: ablationLines(fakeResult(), 'startFraction'), gridHeatmap: gridHeatmap(fakeResult()),
    metricBars: metricBars(sftCells(r), 'forgetting', 't'),
  };
  // Losses are dots on a fitted axis (bars from zero hide differences in the second decimal); percentages stay bars.
  assert.equal(figs.metricBars.data[0].type, 'scatter');
  // SFT steps are whole numbers: a short run is ticked at every step, not at half steps.
  assert.equal((figs.sftCurves.layout.xaxis as { dtick: number }).dtick, 1);
  assert.equal((figs.sftCurvesGrid.layout.xaxis as { dtick: number }).dtick, 1);
  assert.equal(metricBars(sftCells(r), 'relImprovement', 't').data[0].type, 'bar');
  for (const [name, f] of Object.entries(figs)) {
    assert.ok(f.caption && f.caption.length < 240, `${name}: a one-line caption`);
    assert.match(f.caption!, /better/, `${name}: says which way is better`);
  }
});

test('matmul figure: log axis ticked at the measured sizes; the caption tells timing noise from a real dip', () => {
  const rows = [64, 128, 256, 512].map((n) => ({ n, ms: 1, gflops: 10, bestGflops: 11 }));
  const fig = matmulSpeedFigure(rows, 'native');
  assert.deepEqual((fig.layout.xaxis as { tickvals: number[]; ticktext: string[] }).tickvals, [64, 128, 256, 512]);
  assert.deepEqual((fig.layout.xaxis as { ticktext: string[] }).ticktext, ['64', '128', '256', '512']);
  assert.match(describeMatmulSpeed(rows), /no sign of other processes/);
  const noisy = rows.map((r) => (r.n === 512 ? { ...r, gflops: 3 } : r));
  assert.match(describeMatmulSpeed(noisy), /n = 512: median under 70% of the fastest, so other processes were on the cores/);
  assert.doesNotMatch(describeMatmulSpeed(noisy), /real slowdown/);
  const dip = rows.map((r) => (r.n === 512 ? { ...r, gflops: 5, bestGflops: 5.5 } : r));
  assert.match(describeMatmulSpeed(dip), /n = 512: even the fastest run is slower than at a smaller size/);
});

test('prose says which runs trained now and how many tasks this preset fine-tunes on', () => {
  const r = fakeResult('midtraining');
  const text = describeRunSources({ ...r, trainedNow: r.plan.runs.filter((p) => p.branch).map((p) => p.id) });
  const branches = r.plan.runs.filter((p) => p.branch).length;
  assert.match(text, new RegExp(`${branches} of ${r.plan.runs.length} runs trained now`));
  assert.match(text, /came back finished from the run store \(pretraining: `baseline`\)/);
  assert.match(text, /fine-tuned on the two tasks \(pycode and gsm\)/);
  assert.match(text, /preset `tiny` leaves out sciq, lima/);
  assert.match(describeRunSources({ ...r, trainedNow: [] }), /All \d+ runs came back finished from the run store; nothing trained now/);
});

test('accuracy cells at floor or chance are named, not read as findings', () => {
  const cells = sftCells(fakeResult());
  const text = describeAccuracy(cells);
  assert.match(text, /\*\*pycode\*\* \(≥ 300 examples per cell\): 5 cells, 1 at floor \(none correct: baseline\)/);
});

test('SFT convergence: the last interval\'s share of the fall says whether SFT val loss flattened', () => {
  const r = fakeResult();
  // Baseline pycode at its best LR 1e-3: val sft = 2.1 + 1 − step/4 on average → 2.85, 2.60, 2.10 at steps 1, 2, 4.
  const c = sftConvergence(r, BASELINE, 'pycode')!;
  assert.deepEqual(c.steps, [1, 2, 4]);
  assert.deepEqual(c.loss.map((x) => +x.toFixed(6)), [2.85, 2.6, 2.1]);
  assert.ok(Math.abs(c.lastDrop - 0.5) < 1e-9 && Math.abs(c.lastDropShare - 2 / 3) < 1e-9, `${c.lastDrop} ${c.lastDropShare}`);
  assert.equal(convergenceWords(c), 'SFT val loss after steps 1 / 2 / 4: 2.85 / 2.60 / 2.10: still falling (the last 2 steps lowered it by 0.50, 67% of its fall since step 1): measured before convergence.');
  assert.match(describeBaseline(r), /\*\*pycode\*\* .*still falling/);
  // Flatten the end: step 4 only 0.01 below step 2 → 0.01 / 0.26 of the fall: close to flat.
  for (const id of Object.keys(r.metrics)) for (const l of r.metrics[id]) if (l.step === 4 && l.val?.sft !== undefined) l.val.sft = r.metrics[id].find((x) => x.step === 2)!.val!.sft! - 0.01;
  const flat = sftConvergence(r, BASELINE, 'pycode')!;
  assert.ok(Math.abs(flat.lastDropShare - 0.01 / 0.26) < 1e-9);
  assert.match(convergenceWords(flat), /: close to flat \(the last 2 steps lowered it by 0\.01, 4% of its fall since step 1\)\.$/);
  // Rising loss: no fall to share.
  for (const id of Object.keys(r.metrics)) for (const l of r.metrics[id]) if (l.val?.sft !== undefined) l.val.sft = 3 + l.step;
  assert.match(convergenceWords(sftConvergence(r, BASELINE, 'pycode')!), /\(it did not fall\)\.$/);
});
