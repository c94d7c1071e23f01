// The SFT val cut is a config field: it changes the run id and the SFT val loss, and nothing else a run computes.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getOrRun } from '../../src/runs/store';
import { validateRunConfig } from '../../src/runs/validate';
import { setupBackend } from './helpers';
import { microData, microPretrain, microSft } from './fixtures';

before(async () => {
  process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-valcut-'));
  await setupBackend();
});
after(() => fs.rmSync(process.env.MIDTRAIN_CACHE!, { recursive: true, force: true }));

test('valExamples: SFT val loss over the first n val examples; all of them equals no cut', async () => {
  const data = microData();
  const base = await getOrRun(microPretrain(), { quiet: true, data });
  const sft = (over = {}) => getOrRun(microSft(base.id, { epochs: 1, ...over }), { quiet: true, data });
  const all = await sft();
  const cut = await sft({ valExamples: 3 });
  const whole = await sft({ valExamples: data.sft!.pycode!.val.length });
  for (const r of [all, cut, whole]) assert.equal(r.status, 'finished', r.error);
  assert.equal(new Set([all.id, cut.id, whole.id]).size, 3, 'the cut is part of the id');
  assert.equal(cut.summary!.finalVal.general, all.summary!.finalVal.general, 'training and forgetting are untouched by the cut');
  assert.notEqual(cut.summary!.finalVal.sft, all.summary!.finalVal.sft, 'the cut changes the SFT val loss');
  assert.equal(whole.summary!.finalVal.sft, all.summary!.finalVal.sft, 'a cut at the split length is no cut');
  assert.throws(() => validateRunConfig(microSft(base.id, { valExamples: 0 }), 'x.json'), /x\.json\.valExamples: expected a positive integer, got 0/);
});
