// Notebooks end to end: every notebook in notebooks/ executes headlessly on the tiny preset (one subtest
// each, so the summary counts them), a broken cell fails naming notebook, cell and error, the kernelspec
// is visible to Jupyter, and a server started like `npm run notebook` runs a cell that imports 'midtrain'.
// Jupyter-dependent tests skip with the reason when Jupyter is missing (`npm run setup` installs it).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectRoot } from '../../src/config';
import { hasJupyter, hasNotebookServer, jupyterEnv, jupyterPython, kernelspecRoot } from '../../src/notebooks/jupyter';
import { formatFailure, isKernelGlitch, listNotebooks, notebookPreset, readFailure, resolveNotebooks, runNotebook } from '../../src/notebooks/run';
import { getWithToken, startNotebookServer, waitForServer } from '../../src/notebooks/server';
import { freePort } from '../free-port';

const noJupyter = !hasJupyter() && 'no python with Jupyter (nbconvert, nbclient, jupyter_client): run npm run setup';
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `midtrain-${prefix}-`));

/** A minimal nbformat-4 notebook for the tslab kernel. */
function writeNotebook(file: string, cells: { type: 'code' | 'markdown'; source: string }[]): void {
  const nb = {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    cells: cells.map((c, i) => c.type === 'code'
      ? { cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source: c.source }
      : { cell_type: 'markdown', id: `c${i}`, metadata: {}, source: c.source }),
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
}

// ---------------------------------------------------------------------------------------------------------
// Without Jupyter.

test('preset comes from MIDTRAIN_PRESET, default tiny, bad values named', () => {
  const saved = process.env.MIDTRAIN_PRESET;
  try {
    delete process.env.MIDTRAIN_PRESET;
    assert.equal(notebookPreset(), 'tiny');
    process.env.MIDTRAIN_PRESET = 'small';
    assert.equal(notebookPreset(), 'small');
    process.env.MIDTRAIN_PRESET = 'huge';
    assert.throws(() => notebookPreset(), /MIDTRAIN_PRESET="huge" is not a preset; use one of tiny, small/);
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_PRESET; else process.env.MIDTRAIN_PRESET = saved;
  }
});

test('notebook names resolve by name, file name or number prefix; unknown ones list what exists', () => {
  const dir = tmp('names');
  try {
    for (const n of ['00-setup', '01-baseline', '01b-extra', '02-mix']) writeNotebook(path.join(dir, `${n}.ipynb`), []);
    fs.writeFileSync(path.join(dir, 'notes.txt'), '');
    const base = (fs: string[]) => fs.map((f) => path.basename(f));
    assert.deepEqual(base(listNotebooks(dir)), ['00-setup.ipynb', '01-baseline.ipynb', '01b-extra.ipynb', '02-mix.ipynb']);
    assert.deepEqual(base(resolveNotebooks(['02', '00-setup.ipynb', '01-baseline'], dir)), ['02-mix.ipynb', '00-setup.ipynb', '01-baseline.ipynb']);
    assert.throws(() => resolveNotebooks(['07'], dir), /notebook "07" not found in .*; notebooks: 00-setup, 01-baseline, 01b-extra, 02-mix/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('readFailure finds the first error output and counts cells from 1', () => {
  const dir = tmp('read');
  try {
    const file = path.join(dir, 'x.ipynb');
    fs.writeFileSync(file, JSON.stringify({
      cells: [
        { cell_type: 'markdown', source: '# t' },
        { cell_type: 'code', source: ['const a = 1;\n'], outputs: [{ output_type: 'stream', name: 'stderr', text: 'warning' }] },
        { cell_type: 'code', source: '\n  throw new RangeError("x");', outputs: [{ output_type: 'error', ename: 'RangeError', evalue: 'x', traceback: [] }] },
        { cell_type: 'code', source: 'later', outputs: [{ output_type: 'error', ename: 'Other', evalue: 'y', traceback: [] }] },
      ],
    }));
    const f = readFailure(file)!;
    assert.deepEqual(f, { notebook: 'x', cell: 3, codeCell: 2, ename: 'RangeError', evalue: 'x', source: 'throw new RangeError("x");' });
    assert.equal(formatFailure(f), 'notebook x, cell 3: RangeError: x');
    fs.writeFileSync(file, JSON.stringify({ cells: [{ cell_type: 'code', source: '', outputs: [] }] }));
    assert.equal(readFailure(file), undefined);
    fs.writeFileSync(file, '{ not json');
    assert.throws(() => readFailure(file), /cannot read executed notebook .*x\.ipynb/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// With Jupyter.

test('errors tslab prints into a cell are classified: runtime error, type error, tslab\'s own failure', { skip: noJupyter }, () => {
  const samples = [
    'evalmachine.<anonymous>:2\nthrow new RangeError("boom");\n^\n\nRangeError: boom\n    at evalmachine.<anonymous>:2:7\n',
    'Error: rejected\n    at evalmachine.<anonymous>:3:43\n',
    "1:7 - Type 'string' is not assignable to type 'number'.\n2:1 - Cannot find name 'y'.\n",
    'Warning: Couldn\'t load Vulkan\nunexpected error: Error: Unexpected pending rebuildTimer\n    at sys.setTimeout (converter.js:111:19)\n',
    'something odd\n',
    '',
  ];
  const script = [
    'import importlib.util, json, sys',
    "spec = importlib.util.spec_from_file_location('d', sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
    'print(json.dumps([m.describe_failure(s) for s in json.loads(sys.argv[2])]))',
  ].join('\n');
  const r = spawnSync(jupyterPython(), ['-c', script, path.join(projectRoot(), 'src', 'notebooks', 'execute-notebook.py'), JSON.stringify(samples)], { encoding: 'utf8', env: jupyterEnv() });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    ['RangeError', 'boom'],
    ['Error', 'rejected'],
    ['TypeScriptError', "1:7 - Type 'string' is not assignable to type 'number'.; 2:1 - Cannot find name 'y'."],
    ['TslabInternalError', 'Error: Unexpected pending rebuildTimer'],
    ['Error', 'something odd'],
    ['Error', 'the cell failed without printing an error'],
  ]);
  assert.ok(isKernelGlitch({ notebook: 'n', cell: 1, codeCell: 1, ename: 'TslabInternalError', evalue: 'Error: Unexpected pending rebuildTimer', source: '' }));
  assert.ok(!isKernelGlitch({ notebook: 'n', cell: 1, codeCell: 1, ename: 'RangeError', evalue: 'Unexpected pending rebuildTimer', source: '' }));
});

test('the project kernelspec is what Jupyter lists as tslab', { skip: noJupyter }, () => {
  const r = spawnSync(jupyterPython(), ['-m', 'jupyter', 'kernelspec', 'list', '--json'], { env: jupyterEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const specs = JSON.parse(r.stdout).kernelspecs;
  assert.equal(specs.tslab?.resource_dir, path.join(kernelspecRoot(), 'kernels', 'tslab'));
});

test('every notebook runs headlessly on the tiny preset', { skip: noJupyter }, async (t) => {
  const out = tmp('nbout');
  const files = listNotebooks();
  assert.ok(files.some((f) => path.basename(f) === '00-setup.ipynb'), 'notebooks/00-setup.ipynb is missing');
  for (const file of files) {
    await t.test(path.basename(file, '.ipynb'), async (st) => {
      const r = await runNotebook(file, { preset: 'tiny', outDir: path.join(out, 'executed'), reportDir: path.join(out, 'reports'), log: () => {} });
      if (!r.ok) assert.fail(`${formatFailure(r.failure!)} (executed copy: ${r.executed})`);
      st.diagnostic(`${path.basename(file)}: all cells ran in ${r.seconds.toFixed(1)} s`);
      assert.ok(fs.statSync(r.html).size > 1000, 'HTML report written');
      assert.equal(readFailure(r.executed), undefined);
    });
  }
  // Outputs of passing notebooks are not needed; a failing one's executed copy is kept for the reader.
  if (fs.existsSync(out) && !t.signal.aborted) {
    const executed = path.join(out, 'executed');
    const failed = fs.existsSync(executed) && fs.readdirSync(executed).some((f) => f.endsWith('.ipynb') && readFailure(path.join(executed, f)));
    if (!failed) fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a broken cell fails the run naming the notebook, the cell and the error (CLI and library)', { skip: noJupyter }, async () => {
  const dir = tmp('broken');
  try {
    const nb = path.join(dir, 'broken-example.ipynb');
    writeNotebook(nb, [
      { type: 'markdown', source: '# A notebook with a bug' },
      { type: 'code', source: "import * as mt from 'midtrain';\nconsole.log(mt.notebookPreset());" },
      { type: 'code', source: "const n: number = 1;\nif (n > 0) throw new RangeError('deliberately broken');" },
      { type: 'code', source: "console.log('never runs');" },
    ]);
    const cli = spawnSync(process.execPath, [path.join(projectRoot(), 'dist', 'src', 'notebooks', 'cli.js'), 'run', '--preset', 'tiny', '--out', path.join(dir, 'out'), '--reports', path.join(dir, 'reports'), nb],
      { encoding: 'utf8', cwd: projectRoot() });
    assert.equal(cli.status, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /FAIL {2}notebook broken-example, cell 3: RangeError: deliberately broken/);
    assert.ok(!fs.existsSync(path.join(dir, 'reports', 'broken-example.html')), 'no report for a failed notebook');
    const executed = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'broken-example.ipynb'), 'utf8'));
    assert.equal([executed.cells[1].outputs[0].text].flat().join('').trim(), 'tiny', 'cells before the failure ran, with MIDTRAIN_PRESET');
    assert.deepEqual(executed.cells[3].outputs, [], 'cells after the failure did not run');

    // A type error is caught by tslab's compiler before anything runs; the runner names it as such.
    writeNotebook(nb, [{ type: 'code', source: "const x: number = 'not a number';" }]);
    const r = await runNotebook(nb, { preset: 'tiny', outDir: path.join(dir, 'out2'), reportDir: path.join(dir, 'reports'), log: () => {} });
    assert.equal(r.ok, false);
    assert.equal(formatFailure(r.failure!), "notebook broken-example, cell 1: TypeScriptError: 1:7 - Type 'string' is not assignable to type 'number'.");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});


test('npm run notebook\'s server lists the tslab kernel and runs a cell importing midtrain', { skip: (noJupyter || !hasNotebookServer()) && 'no Jupyter Notebook server (Debian: jupyter-notebook)' }, async () => {
  const token = crypto.randomBytes(16).toString('hex');
  const server = startNotebookServer({ port: await freePort(), token, stdio: 'pipe', env: { MIDTRAIN_PRESET: 'tiny' } });
  try {
    await waitForServer(server, token);
    assert.equal((await getWithToken(`${server.url}api/kernelspecs`, 'wrong-token')).status, 403, 'the token is enforced');
    const specs = await getWithToken(`${server.url}api/kernelspecs`, token);
    assert.equal(specs.status, 200);
    assert.ok(JSON.parse(specs.body).kernelspecs.tslab, `tslab missing from ${specs.body.slice(0, 300)}`);

    const code = "import * as mt from 'midtrain';\nconsole.log(`root=${mt.projectRoot()} preset=${mt.notebookPreset()}`);";
    const r = spawnSync(jupyterPython(), [path.join(projectRoot(), 'test', 'foundation', 'kernel-client.py'), server.url, token, 'tslab', code], { encoding: 'utf8', env: jupyterEnv(), timeout: 180_000 });
    assert.equal(r.status, 0, `kernel client failed: ${r.stderr}\nserver log: ${server.log().slice(-2000)}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.status, 'ok', out.stderr);
    assert.equal(out.stdout.trim(), `root=${projectRoot()} preset=tiny`);
  } finally {
    await server.stop();
  }
});
