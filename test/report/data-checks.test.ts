// The math-synthetic ablation's prose and the data-check tables, from hand-made results and manifests
// with planted numbers (no training): a planted difference must be found, a planted null must read inconclusive.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import type { ExperimentResult } from '../../src/experiments/result';
import type { RunRecord } from '../../src/runs/types';
import type { DataManifest } from '../../src/data/build';
import { describeMathSynthetic } from '../../src/report/findings';
import { leakCheckTable, sftFitTable, rolePartsTable, describeDataChecks } from '../../src/report/data-checks';
import { contentId } from '../experiments/content-id';

const tiny = scaleFor('tiny');
const scale = { ...tiny, sft: { ...tiny.sft, lrs: [1e-4, 1e-3], seeds: [0, 1, 2, 3] } };

/** gsm SFT loss: 2.0 for the baseline, 1.8 for the math arm, 1.8 + `naturalGap` without the synthetic problems, plus per-seed noise. */
function ablation(naturalGap: number, noise: (seed: number) => number): ExperimentResult {
  const plan = planExperiment('math-synthetic-ablation', scale, 'd', contentId);
  const records: Record<string, RunRecord> = {};
  for (const r of plan.runs) {
    const role = r.branch?.role ?? 'general';
    if (r.config.kind === 'pretrain') {
      records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd', summary: { finalVal: { general: 3 }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' } };
      continue;
    }
    const level = role === 'math' ? 1.8 : role === 'math-natural' ? 1.8 + naturalGap : 2.0;
    const sft = level + (r.lr === 1e-3 ? 0 : 0.5) + noise(r.seed!) * (role === 'math' ? 1 : -1);
    records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'test', dataHash: 'd',
      summary: { finalVal: { sft, general: 3.4 }, accuracy: 0.1, accuracyCounts: { correct: 20, n: 200, dropped: 0, method: 'generate' }, wallSeconds: 1, tokensPerSec: 1, backend: 'cpu' } };
  }
  return { plan, records, metrics: {} };
}

test('the math-synthetic ablation: a planted gap is found in either direction, a planted null reads inconclusive', () => {
  const helps = describeMathSynthetic(ablation(0.2, (s) => 0.01 * s));
  assert.match(helps, /synthetic problems lower the gsm loss/);
  assert.match(helps, /Paired difference \(with − without\): -0\.170 \[/);
  assert.match(helps, /over 4 SFT seeds/);
  const hurts = describeMathSynthetic(ablation(-0.2, (s) => 0.01 * s));
  assert.match(hurts, /without the synthetic problems reaches the lower gsm loss/);
  // No gap; seed noise of ±0.05 that alternates sign: the interval must span zero.
  const none = describeMathSynthetic(ablation(0, (s) => (s % 2 ? 0.05 : -0.05)));
  assert.match(none, /inconclusive/);
  assert.doesNotMatch(none, /synthetic problems lower/);
  assert.match(helps, /Accuracy: with 10\.0% \[/);
});

test('the ablation without finished runs of both arms says so', () => {
  const r = ablation(0.2, () => 0);
  for (const run of r.plan.runs) if (run.branch?.role === 'math-natural') delete r.records[run.id];
  assert.equal(describeMathSynthetic(r), 'No finished runs of both arms.');
});

function manifest(): DataManifest {
  const role = (cleaning: Record<string, number>, trainTokens: number) => ({ cleaning, train: { numTokens: trainTokens } });
  return {
    sizes: { sftContext: 128 },
    roles: {
      general: role({ kept: 10 }, 1000), code: role({ kept: 10 }, 1000), math: role({ kept: 10 }, 4000),
      instruction: role({ sciqLeakHeldOutItems: 160, sciqLeakDocsWithHeldOutGloss: 12, sciqLeakDocsRemoved: 7, sciqLeakItemsLeakedBefore: 5, sciqLeakItemsGlossBefore: 9, sciqLeakItemsGlossOnlyAfter: 4 }, 1000),
      knowledge: role({ sciqLeakHeldOutItems: 160, sciqLeakDocsWithHeldOutGloss: 30, sciqLeakDocsRemoved: 1, sciqLeakItemsLeakedBefore: 1, sciqLeakItemsGlossBefore: 20, sciqLeakItemsGlossOnlyAfter: 19 }, 1000),
      'web-quality': role({ kept: 10 }, 1000),
    },
    sft: {
      pycode: { sizes: { train: 400, val: 80, test: 80 }, tooLong: { train: 3, val: 1, test: 0 } },
      gsm: { sizes: { train: 400, val: 80, test: 80 }, tooLong: { train: 0, val: 0, test: 0 } },
      sciq: { sizes: { train: 400, val: 80, test: 80 }, tooLong: { train: 0, val: 0, test: 0 } },
      lima: { sizes: { train: 40, val: 8, test: 8 }, tooLong: { train: 12, val: 2, test: 1 } },
    },
    parts: {
      'math-natural': { role: 'math', documents: { train: 50, val: 5 }, tokens: { train: 1000, val: 100 } },
      'math-synthetic': { role: 'math', documents: { train: 300, val: 30 }, tokens: { train: 3000, val: 300 } },
    },
  } as unknown as DataManifest;
}

test('data checks: leak counts per checked role, SFT examples left out, the synthetic share of math', () => {
  const m = manifest();
  const leaks = leakCheckTable(m).objects() as Record<string, unknown>[];
  assert.deepEqual(leaks.map((r) => r.role), ['instruction', 'knowledge'], 'only roles the leak filter checked');
  assert.equal(leaks[0]['docs removed (definition with its answer)'], 7);
  assert.equal(leaks[1]['items whose definition remains (never with its answer)'], 19);
  const fit = sftFitTable(m).objects() as Record<string, unknown>[];
  assert.equal(fit.find((r) => r.task === 'lima')!['left out, too long (train / val / test)'], '12 / 2 / 1');
  const parts = rolePartsTable(m).objects() as Record<string, unknown>[];
  assert.equal(parts.find((r) => r.part === 'math-synthetic')!['share of the role’s train tokens'], '75.0%');
  const text = describeDataChecks(m);
  assert.match(text, /\*\*instruction\*\*: 7 documents removed .* 160 held-out/);
  assert.match(text, /\*\*knowledge\*\*: 1 document removed/);
  assert.match(text, /pycode left out 4 examples, lima left out 15 examples/);
  assert.match(text, /75\.0% of the math role’s train tokens are synthetic/);
});
