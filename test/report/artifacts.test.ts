// Report artifacts: runs.json merges by id, the artifact reader names what is missing, codeHash follows content.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { recordRuns, readNotebookArtifact, codeHash, provenance } from '../../src/report/artifacts';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import type { ExperimentResult } from '../../src/experiments/result';
import type { RunRecord } from '../../src/runs/types';
import { contentId } from '../experiments/content-id';

function result(name: 'baseline' | 'timing'): ExperimentResult {
  const plan = planExperiment(name, scaleFor('tiny'), 'd0', contentId);
  const records: Record<string, RunRecord> = {};
  for (const r of plan.runs.slice(0, 3)) records[r.id] = { id: r.id, config: r.config, status: 'finished', dir: '/x', codeVersion: 'v1', dataHash: 'd0' };
  return { plan, records, metrics: {} };
}

test('runs.json: every recorded run with its config, merged by id across notebooks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-art-'));
  try {
    const a = recordRuns(dir, [result('baseline')]);
    assert.equal(Object.keys(a).length, 3);
    const b = recordRuns(dir, [result('timing')]);
    // The baseline is the same run in both experiments: 3 + 3 − 1.
    assert.equal(Object.keys(b).length, 5);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8'));
    assert.deepEqual(Object.keys(onDisk), Object.keys(onDisk).slice().sort());
    const first = Object.values(onDisk)[0] as { config: { kind: string }; dataHash: string };
    assert.ok(first.config.kind && first.dataHash === 'd0');
    assert.deepEqual(provenance([result('baseline')]).dataHash, ['d0']);
    fs.writeFileSync(path.join(dir, 'runs.json'), '{oops');
    assert.throws(() => recordRuns(dir, [result('baseline')]), /runs\.json is not valid JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('artifact reader: a missing file or field is one line naming it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-art-'));
  try {
    assert.throws(() => readNotebookArtifact(path.join(dir, 'nope.json')), /nope\.json does not exist/);
    fs.writeFileSync(path.join(dir, 'x.json'), JSON.stringify({ notebook: 'x', preset: 'tiny', tables: [], figures: [], runs: [], dataHash: [] }));
    assert.throws(() => readNotebookArtifact(path.join(dir, 'x.json')), /x\.json: field "codeHash" is missing/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('codeHash covers src/ and notebooks/ content', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-code-'));
  try {
    fs.mkdirSync(path.join(root, 'src'));
    fs.mkdirSync(path.join(root, 'notebooks'));
    fs.writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    fs.writeFileSync(path.join(root, 'notebooks', '01.ipynb'), '{}');
    const h1 = codeHash(root);
    assert.equal(codeHash(root), h1, 'stable');
    fs.writeFileSync(path.join(root, 'notebooks', '01.ipynb'), '{"cells":[]}');
    const h2 = codeHash(root);
    assert.notEqual(h2, h1, 'a notebook edit changes it');
    fs.writeFileSync(path.join(root, 'README.md'), 'docs');
    assert.equal(codeHash(root), h2, 'files outside src/ and notebooks/ do not');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
