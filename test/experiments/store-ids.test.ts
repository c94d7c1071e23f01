// The property that makes "change one number, re-run one notebook, nothing unrelated retrains" true, checked
// with the run store's own id function (not a stand-in): an override changes exactly the runs it touches.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { runId } from '../../src/runs/store';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';

for (const preset of ['tiny', 'small'] as const) {
  test(`${preset}: the store's ids change only for the overridden branch and its SFT children`, () => {
    const scale = scaleFor(preset);
    const before = planExperiment('midtraining', scale, 'data-hash', runId);
    const after = planExperiment('midtraining', scale, 'data-hash', runId, { code: { weight: 0.3 } });
    // The code branch at every pretraining seed (the main one and the headline comparisons' extra seeds).
    const codes = new Set(before.runs.filter((r) => r.model === 'code-w20-f10' && r.config.kind === 'pretrain').map((r) => r.id));
    const changed = before.runs.filter((r, i) => r.id !== after.runs[i].id);
    assert.equal(after.runs[0].id, before.runs[0].id, 'baseline reused');
    assert.ok(changed.length > 1);
    assert.ok(changed.every((r) => codes.has(r.id) || codes.has(r.parentId ?? '')), 'only the code runs and their children');
    const perModel = scale.sft.lrs.length * scale.sft.seeds.length * before.experiment.sftTasks.length;
    const perExtraSeed = 1 + scale.sft.lrs.length * scale.sft.seeds.length; // the code branch, fine-tuned on pycode only
    assert.equal(changed.length, 1 + perModel + scale.pretrain.extraSeeds.length * perExtraSeed);
    // Operational fields (names, kept checkpoints) are not identity: the baseline planned by any experiment is the same run.
    assert.equal(planExperiment('timing', scale, 'data-hash', runId).runs[0].id, before.runs[0].id);
  });
}
