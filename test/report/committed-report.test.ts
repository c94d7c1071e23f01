// The committed small report (reports/small/) must be what this commit's code would produce: every run
// id in runs.json re-derives from its config with today's engine version, today's experiment definitions
// plan exactly those runs, and every experiment notebook's artifact lists tables with rows and figures
// with points. Retraining is not needed to check this — ids are content hashes of config, data and engine.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../src/config';
import { runId } from '../../src/runs/store';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import { EXPERIMENT_NAMES } from '../../src/experiments/definitions';
import { readNotebookArtifact, type RunEntry } from '../../src/report/artifacts';

const dir = path.join(projectRoot(), 'reports', 'small');
const skip = fs.existsSync(path.join(dir, 'runs.json')) ? false : 'reports/small is not committed in this checkout';

test('committed small report: every run id re-derives from its config with this engine', { skip }, () => {
  const runs = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8')) as Record<string, RunEntry>;
  assert.ok(Object.keys(runs).length > 0);
  for (const [id, r] of Object.entries(runs)) {
    assert.equal(r.status, 'finished', `${id} (${r.name}) is ${r.status}`);
    assert.equal(runId(r.config, r.dataHash), id, `${r.name}: runs.json id ${id} does not match its config under this engine (${r.codeVersion})`);
  }
});

test('committed small report: this commit’s experiment definitions plan exactly its runs', { skip }, () => {
  const runs = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8')) as Record<string, RunEntry>;
  const pre = Object.values(runs).find((r) => r.kind === 'pretrain')!;
  const planned = new Set<string>();
  for (const name of EXPERIMENT_NAMES) {
    for (const r of planExperiment(name, scaleFor('small'), pre.dataHash, runId).runs) planned.add(r.id);
  }
  const missing = [...planned].filter((id) => !runs[id]);
  const extra = Object.keys(runs).filter((id) => !planned.has(id));
  assert.deepEqual(missing, [], 'planned runs absent from the report: the definitions changed since it was made (rerun npm run report -- --preset small)');
  assert.deepEqual(extra, [], 'report runs no experiment plans any more');
});

test('committed small report: each experiment notebook left tables with rows and figures with points', { skip }, () => {
  const notebooks = fs.readdirSync(dir).filter((f) => /^0[1-7]-.*\.json$/.test(f));
  assert.equal(notebooks.length, 7, `notebook artifacts: ${notebooks.join(', ')}`);
  for (const f of notebooks) {
    const a = readNotebookArtifact(path.join(dir, f));
    assert.equal(a.preset, 'small');
    assert.ok(a.tables.length > 0 && a.tables.every((t) => t.rows > 0), `${f}: a table without rows`);
    assert.ok(a.figures.length > 0 && a.figures.every((g) => g.points > 0), `${f}: an empty figure`);
    for (const g of a.figures) for (const file of g.files.filter((x) => x.endsWith('.png'))) assert.ok(fs.existsSync(path.join(dir, file)), `${f}: ${file} missing`);
    assert.ok(!a.git.endsWith('+dirty'), `${f} was made from uncommitted code (${a.git})`);
  }
  for (const f of ['summary.md', 'summary.csv', '07-findings.html']) assert.ok(fs.existsSync(path.join(dir, f)), `${f} missing`);
});
