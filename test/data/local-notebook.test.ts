// The baseline notebook end to end on a data config of local files (every format, tiny sizes): the same
// notebook, chosen data by MIDTRAIN_DATA_CONFIG, runs through and writes its report. Skips without Jupyter.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hasJupyter } from '../../src/notebooks/jupyter';
import { notebooksDir, runNotebook } from '../../src/notebooks/run';
import { ensureLocalData } from '../../src/data/local/build';
import { writeFixtures } from './local-fixtures';

const noJupyter = !hasJupyter() && 'no python with Jupyter (nbconvert, nbclient, jupyter_client): run npm run setup';

test('notebooks/01-baseline runs on a data config of local files', { skip: noJupyter }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-local-nb-'));
  const saved = { cache: process.env.MIDTRAIN_CACHE, config: process.env.MIDTRAIN_DATA_CONFIG, png: process.env.MIDTRAIN_NO_PNG };
  try {
    process.env.MIDTRAIN_CACHE = path.join(root, 'cache');
    const fx = writeFixtures(path.join(root, 'files'));
    const bundle = await ensureLocalData(fx.config, 'tiny', { quiet: true });
    process.env.MIDTRAIN_DATA_CONFIG = fx.config; // inherited by the kernel
    process.env.MIDTRAIN_NO_PNG = '1'; // PNG export (Chromium) is the report tests' concern, not the data's
    const out = path.join(root, 'out');
    const r = await runNotebook(path.join(notebooksDir(), '01-baseline.ipynb'), { preset: 'tiny', outDir: out, reportDir: out, log: () => {} });
    assert.ok(r.ok, r.failure ? `${r.failure.notebook} cell ${r.failure.cell}: ${r.failure.ename}: ${r.failure.evalue}` : 'failed');
    // The runs it trained are on the local data: the pretraining runs' records carry its data hash (SFT runs a view of it).
    const runs = path.join(root, 'cache', 'runs');
    const hashes = new Set<string>();
    for (const d of fs.readdirSync(runs)) {
      const rec = path.join(runs, d, 'run.json');
      if (fs.existsSync(rec)) hashes.add(JSON.parse(fs.readFileSync(rec, 'utf8')).dataHash);
    }
    assert.ok(hashes.size > 0, 'no runs recorded');
    assert.ok([...hashes].some((h) => h === bundle.manifestHash), `runs trained on ${[...hashes].join(', ')}, not the local data ${bundle.manifestHash}`);
  } finally {
    if (saved.cache === undefined) delete process.env.MIDTRAIN_CACHE; else process.env.MIDTRAIN_CACHE = saved.cache;
    if (saved.config === undefined) delete process.env.MIDTRAIN_DATA_CONFIG; else process.env.MIDTRAIN_DATA_CONFIG = saved.config;
    if (saved.png === undefined) delete process.env.MIDTRAIN_NO_PNG; else process.env.MIDTRAIN_NO_PNG = saved.png;
    fs.rmSync(root, { recursive: true, force: true });
  }
});
