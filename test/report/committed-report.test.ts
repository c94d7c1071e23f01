// The committed small report (reports/small/) against this commit's code. Two kinds of finding:
//  - errors, which fail: a malformed runs.json (unparseable, an unfinished run, a summary without finite
//    numbers, a parent it does not hold), notebook artifacts with empty tables or figures, missing files,
//    a report made from uncommitted code;
//  - staleness, which is reported and does not fail: run ids that no longer re-derive from their configs
//    (another engine version, a config shape this code hashes differently) and runs today's experiment
//    definitions plan that the report lacks. Changes to run identity are made on purpose and the study is
//    re-run once after them; until then the report must *say* it is stale (reports/small/README.md), and
//    once it is fresh again it must stop saying so. Retraining is not needed: ids are content hashes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../src/config';
import { canonicalJson, codeVersion, runId } from '../../src/runs/store';
import { planExperiment } from '../../src/experiments/plan';
import { scaleFor } from '../../src/experiments/scale';
import { EXPERIMENT_NAMES } from '../../src/experiments/definitions';
import { readNotebookArtifact, type RunEntry } from '../../src/report/artifacts';
import { readReportRuns, staleness } from '../../src/report/reproduce';
import type { RunConfig } from '../../src/runs/types';

const dir = path.join(projectRoot(), 'reports', 'small');
const skip = fs.existsSync(path.join(dir, 'runs.json')) ? false : 'reports/small is not committed in this checkout';

/** Config fields that differ between a recorded config and the one planned under the same name today. */
function fieldChanges(recorded: RunConfig, planned: RunConfig): string[] {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(planned)])].filter((k) => k !== 'name' && k !== 'keepCheckpointsAt' && k !== 'parent').sort();
  const show = (v: unknown) => (v === undefined ? 'absent' : canonicalJson(v).slice(0, 40));
  return keys
    .filter((k) => canonicalJson((recorded as unknown as Record<string, unknown>)[k] ?? null) !== canonicalJson((planned as unknown as Record<string, unknown>)[k] ?? null))
    .map((k) => `${k}: ${show((recorded as unknown as Record<string, unknown>)[k])} → ${show((planned as unknown as Record<string, unknown>)[k])}`);
}

/** Every way the committed report is stale under this code, one line each (empty when it is fresh). */
function staleFindings(runs: Record<string, RunEntry>): string[] {
  const out: string[] = [];
  const notRederived = Object.entries(runs).map(([id, r]) => [r, staleness(id, r)] as const).filter(([, why]) => why);
  if (notRederived.length) {
    const reasons = new Map<string, number>();
    for (const [, why] of notRederived) {
      const key = why!.replace(/sft-[0-9a-f]{16}|pretrain-[0-9a-f]{16}/g, '<id>');
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    out.push(`${notRederived.length} of ${Object.keys(runs).length} run ids no longer re-derive from their configs: ${[...reasons].map(([why, n]) => `${n} × ${why}`).join('; ')} (first: ${notRederived[0][0].name})`);
  }
  const pre = Object.values(runs).find((r) => r.kind === 'pretrain' && !r.config.parent)!;
  const planned = new Map<string, RunConfig>();
  for (const name of EXPERIMENT_NAMES) for (const r of planExperiment(name, scaleFor('small'), pre.dataHash, runId).runs) planned.set(r.id, r.config);
  const missing = [...planned.keys()].filter((id) => !runs[id]);
  if (missing.length) {
    const byName = new Map(Object.values(runs).map((r) => [r.name, r]));
    const changes = new Map<string, string[]>();
    for (const id of missing) {
      const was = byName.get(planned.get(id)!.name);
      const what = was ? fieldChanges(was.config, planned.get(id)!) : ['a run the report never had'];
      if (was && was.dataHash !== pre.dataHash) what.push(`data hash ${was.dataHash} → ${pre.dataHash}`);
      const key = (what.length ? what : ['same config and data; the id changed with the engine version or a parent’s id']).join(', ');
      changes.set(key, [...(changes.get(key) ?? []), planned.get(id)!.name]);
    }
    out.push(`today's experiment definitions plan ${missing.length} run(s) the report lacks: ${[...changes].map(([c, names]) => `${names.length} × ${c} (e.g. ${names.slice(0, 2).join(', ')})`).join('; ')}`);
  }
  return out;
}

test('committed small report: runs.json is well formed (finished runs, finite summaries, parents present)', { skip }, () => {
  const { runs } = readReportRuns(dir);
  assert.ok(Object.keys(runs).length > 0);
  for (const [id, r] of Object.entries(runs)) assert.match(id, /^(pretrain|sft)-[0-9a-f]{16}$/, `${r.name}: id ${id}`);
});

test('committed small report: fresh under this code, or says plainly that it is stale', { skip }, (t) => {
  const { runs } = readReportRuns(dir);
  const stale = staleFindings(runs);
  const engines = [...new Set(Object.values(runs).map((r) => r.codeVersion))].join(', ');
  const readme = path.join(dir, 'README.md');
  const says = fs.existsSync(readme) && /\bstale\b/i.test(fs.readFileSync(readme, 'utf8'));
  if (stale.length) {
    const msg = `STALE: reports/small was made by ${engines}; this code is ${codeVersion()}. ${stale.join('. ')}. Re-run the study (npm run report -- --preset small) to refresh it.`;
    t.diagnostic(msg);
    console.log(msg);
    assert.ok(says, `reports/small is stale but reports/small/README.md does not say so: ${msg}`);
  } else {
    assert.ok(!says, 'reports/small is fresh under this code, but reports/small/README.md still calls it stale: remove that note');
  }
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
