// The experiment notebooks (01–07) on the tiny preset: each must leave reports/tiny/<notebook>.json listing
// every table and figure its source asks for (nb.table('…') / nb.figure('…')), with rows, traces and points,
// and the CSV / PNG / HTML files on disk — that is, it produced its results, not just ran its cells.
//
// Executing the notebooks is the foundation's notebook test's job too (test/foundation/notebooks.test.ts).
// To run each notebook once per `npm test`, this test reuses an artifact written during this test session
// (newer than the start of the `node --test` process, by this tree's code): a notebook writes it in its last
// cell, so it exists only if every cell before it ran. Missing or older artifacts: the notebook runs here.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot, reportsDir } from '../../src/config';
import { hasJupyter } from '../../src/notebooks/jupyter';
import { listNotebooks, runNotebook, formatFailure } from '../../src/notebooks/run';
import { readNotebookArtifact, codeHash } from '../../src/report/artifacts';

const PRESET = 'tiny';
const EXPERIMENT_NOTEBOOK = /^0[1-7]-/;

/** Start time (ms since epoch) of the `node --test` process that started this file, or now when unknown. */
function sessionStart(): number {
  try {
    const stat = fs.readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 (starttime), counted after the command name
    const btime = Number(/btime (\d+)/.exec(fs.readFileSync('/proc/stat', 'utf8'))![1]);
    return (btime + ticks / 100) * 1000; // USER_HZ is 100 on Linux
  } catch {
    return Date.now();
  }
}

/** The names a notebook's code cells pass to nb.table('…') and nb.figure('…'). */
function expectedOutputs(file: string): { tables: string[]; figures: string[] } {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { cell_type: string; source: string | string[] }[] };
  const src = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n');
  const names = (re: RegExp) => [...src.matchAll(re)].map((m) => m[1]);
  return { tables: names(/nb\.table\('([^']+)'/g), figures: names(/nb\.figure\('([^']+)'/g) };
}

const notebooks = fs.existsSync(path.join(projectRoot(), 'notebooks')) ? listNotebooks().filter((f) => EXPERIMENT_NOTEBOOK.test(path.basename(f))) : [];
const skip = !hasJupyter() ? 'no python with Jupyter (run npm run setup)' : notebooks.length === 0 ? 'no experiment notebooks' : false;

test('experiment notebooks produce their tables and figures on tiny', { skip }, async (t) => {
  const since = sessionStart();
  const dir = reportsDir(PRESET);
  for (const file of notebooks) {
    const name = path.basename(file, '.ipynb');
    await t.test(name, async () => {
      const artifactFile = path.join(dir, `${name}.json`);
      const fresh = fs.existsSync(artifactFile) && fs.statSync(artifactFile).mtimeMs >= since && readNotebookArtifact(artifactFile).codeHash === codeHash();
      if (!fresh) {
        const r = await runNotebook(file, { preset: PRESET, log: () => {} });
        assert.ok(r.ok, r.failure ? formatFailure(r.failure) : `${name} failed`);
      }
      const a = readNotebookArtifact(artifactFile);
      assert.equal(a.notebook, name);
      assert.equal(a.preset, PRESET);
      assert.equal(a.codeHash, codeHash(), `${name}: produced by the code in this tree (src/ and notebooks/)`);
      assert.ok(a.runs.length > 0, `${name}: lists the runs behind its numbers`);
      assert.ok(a.dataHash.length > 0 && a.dataHash.every((h) => h.length > 0), `${name}: names the data manifest hash`);
      const want = expectedOutputs(file);
      assert.deepEqual(a.tables.map((x) => x.name).sort(), [...want.tables].sort(), `${name}: tables`);
      assert.deepEqual(a.figures.map((x) => x.name).sort(), [...want.figures].sort(), `${name}: figures`);
      for (const tb of a.tables) {
        assert.ok(tb.rows > 0, `${name}: table ${tb.name} has rows`);
        const lines = fs.readFileSync(path.join(dir, tb.csv), 'utf8').trim().split('\n');
        assert.equal(lines.length, tb.rows + 1, `${name}: ${tb.csv} has a header and ${tb.rows} rows`);
      }
      for (const fg of a.figures) {
        assert.ok(fg.traces > 0 && fg.points > 0, `${name}: figure ${fg.name} plots something (${fg.traces} traces, ${fg.points} points)`);
        for (const f of fg.files) assert.ok(fs.statSync(path.join(dir, f)).size > 1000, `${name}: ${f} written`);
        if (process.env.MIDTRAIN_NO_PNG !== '1') assert.ok(fg.files.some((f) => f.endsWith('.png')), `${name}: ${fg.name} has a PNG`);
      }
      const runs = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8')) as Record<string, { config?: unknown; dataHash?: string }>;
      for (const id of a.runs) assert.ok(runs[id]?.config && runs[id].dataHash, `${name}: runs.json has the config of run ${id}`);
      if (name.startsWith('07-')) {
        const csv = fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').trim().split('\n');
        assert.ok(csv.length > 5, 'summary.csv has the headline cells');
        const md = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
        assert.match(md, /Data manifest: `[0-9a-f]+/);
        assert.match(md, /paper SFT loss \(410M\)/);
      }
    });
  }
});
