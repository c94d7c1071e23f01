// Reports travel: a notebook page rendered by the real exporter (execute-notebook.py's nbconvert template)
// and made portable by the renderer (portableReport) loads nothing but the plotly copy beside it and names
// no machine path: no file:// (nbconvert's Debian default loads require.js and MathJax from
// file:///usr/share/javascript), no absolute path of a saved figure, no ../../node_modules fallback. The
// committed notebooks carry no machine paths either.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectRoot } from '../../src/config';
import { figureHtml, plotlyScriptTag, PLOTLY_FILE } from '../../src/report/display';
import { machineReferences, portableReport } from '../../src/report/portable';
import { jupyterPython } from '../../src/notebooks/jupyter';

let python: string | undefined;
try {
  python = jupyterPython();
} catch { /* no Jupyter: the render test skips (CI requires Jupyter) */ }

test('a rendered notebook page loads only the plotly copy beside it and names no machine path', { skip: python ? false : 'no python with nbconvert' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-portable-'));
  try {
    const reportDir = path.join(projectRoot(), 'reports', 'portable-test');
    const saved = path.join(reportDir, 'figures', '00-setup-matmul.html');
    // A notebook as a cell leaves it: a plot (bundle + figure) and a printed absolute path of a saved figure.
    const nb = {
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [
        { cell_type: 'markdown', metadata: {}, source: '# Setup\nProse with no TeX.' },
        {
          cell_type: 'code', metadata: {}, execution_count: 1, source: 'mt.plot(figure)',
          outputs: [
            { output_type: 'display_data', metadata: {}, data: { 'text/html': `${plotlyScriptTag()}\n${figureHtml({ data: [{ type: 'scatter', y: [1, 2] }] })}` } },
            { output_type: 'stream', name: 'stdout', text: `saved: ${saved}\n       ${saved.replace(/html$/, 'png')}\n` },
          ],
        },
      ],
    };
    const nbFile = path.join(dir, 'page.ipynb');
    fs.writeFileSync(nbFile, JSON.stringify(nb));
    const htmlFile = path.join(dir, 'page.html');
    const driver = path.join(projectRoot(), 'src', 'notebooks', 'execute-notebook.py');
    const py = `import importlib.util, nbformat, sys
spec = importlib.util.spec_from_file_location('driver', sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
open(sys.argv[3], 'w').write(m.portable_html(nbformat.read(sys.argv[2], as_version=4)))`;
    const r = spawnSync(python!, ['-c', py, driver, nbFile, htmlFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rendered = fs.readFileSync(htmlFile, 'utf8');
    const page = portableReport(rendered, reportDir, projectRoot());
    assert.equal(page.replaced, true);
    assert.deepEqual(machineReferences(page.html, [projectRoot(), reportDir]), [], 'no file:// and no machine path');
    const loads = [...page.html.matchAll(/<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]).filter((u) => !u.startsWith('data:'));
    assert.deepEqual(loads, [PLOTLY_FILE], 'the only file loaded is the plotly copy beside the report');
    assert.match(page.html, /saved: figures\/00-setup-matmul\.html/, 'the saved figure named relative to the report');
    console.log(`rendered page: ${(page.html.length / 1024).toFixed(0)} KiB, loads ${loads.join(', ')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('machineReferences finds file:// URLs and absolute paths, not URLs or closing tags', () => {
  assert.deepEqual(machineReferences('<script src="file:///usr/share/javascript/requirejs/require.min.js"></script>'), ['file:///usr/share/javascript/requirejs/require.min.js']);
  assert.deepEqual(machineReferences('saved: /work/main/reports/small/figures/a.png'), ['/work/main']);
  assert.deepEqual(machineReferences('<a href="https://example.org/usr/x">x</a></div> ../figures/a.png 1/2'), []);
});

test('committed notebooks hold no machine paths or file:// references', () => {
  const dir = path.join(projectRoot(), 'notebooks');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb'));
  assert.ok(files.length > 0);
  for (const f of files) {
    assert.deepEqual(machineReferences(fs.readFileSync(path.join(dir, f), 'utf8'), [projectRoot()]), [], f);
  }
});
