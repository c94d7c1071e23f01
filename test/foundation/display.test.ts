// Notebook display helpers (src/report/display.ts) and figure export (src/report/export.ts).
// The notebook code path is tested with a stand-in for tslab registered where display.ts looks for the
// kernel's tslab (require.cache), so no Jupyter is needed here.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  externalizePlotly, figureHtml, formatCell, inNotebook, plot, plotlyBundle, plotlyScriptTag, progress, show, tableHtml, tableText, tableView, PLOTLY_FILE,
} from '../../src/report/display';
import { chromiumPath, savePlot } from '../../src/report/export';

const rows = [
  { model: 'baseline', loss: 3.14159, tokens: 123456 },
  { model: 'code<b>', loss: 2.5, tokens: 7 },
  { model: 'math', loss: null, tokens: 1e7 },
];

test('cells: 4 significant digits, integers whole, tiny/huge in exponent form, empty for null', () => {
  assert.equal(formatCell(3.14159), '3.142');
  assert.equal(formatCell(123456), '123456');
  assert.equal(formatCell(1234.56), '1235');
  assert.equal(formatCell(0.0000123456), '1.235e-5');
  assert.equal(formatCell(2.5e7 + 0.5), '2.500e+7');
  assert.equal(formatCell(null), '');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell('x'), 'x');
});

test('row arrays: text table aligned, row cap reported', () => {
  const text = tableText(rows, { maxRows: 2 });
  const lines = text.split('\n');
  assert.equal(lines[0], 'model      loss  tokens');
  assert.equal(lines[2], 'baseline  3.142  123456');
  assert.equal(lines[3], 'code<b>     2.5       7');
  assert.equal(lines[4], '(2 of 3 rows shown)');
});

test('HTML table escapes cells and right-aligns numeric columns', () => {
  const html = tableHtml(rows, { caption: 'runs & losses' });
  assert.match(html, /runs &amp; losses/);
  assert.match(html, /code&lt;b&gt;/);
  assert.doesNotMatch(html, /code<b>/);
  assert.match(html, /<th style="text-align:left[^"]*">model<\/th><th style="text-align:right[^"]*">loss<\/th>/);
  assert.doesNotMatch(html, /rows shown/);
});

test('arquero tables and danfo DataFrames give the same view as plain rows', async () => {
  const aq = require('arquero');
  const t = aq.from(rows);
  const va = tableView(t, 2);
  assert.deepEqual(va.columns, ['model', 'loss', 'tokens']);
  assert.deepEqual(va.rows, [['baseline', 3.14159, 123456], ['code<b>', 2.5, 7]]);
  assert.equal(va.totalRows, 3);

  const dfd = require('danfojs-node');
  const df = new dfd.DataFrame({ model: ['a', 'b', 'c'], loss: [1.5, 2.25, 3] });
  const vd = tableView(df, 2);
  assert.deepEqual(vd.columns, ['model', 'loss']);
  assert.deepEqual(vd.rows, [['a', 1.5], ['b', 2.25]]);
  assert.deepEqual(vd.index, [0, 1]);
  assert.equal(vd.totalRows, 3);
  assert.match(tableText(df), /^ {3}model {2}loss\n/);
  assert.throws(() => tableView(42 as never), /show\(\) takes an arquero table, a danfo DataFrame or an array of row objects/);
});

test('figure HTML cannot be broken out of by data containing </script>', () => {
  const html = figureHtml({ data: [{ type: 'bar', x: ['</script><script>alert(1)</script>'], y: [1] }] }, 'f1');
  assert.equal(html.match(/<\/script>/g)?.length, 1, 'only the figure script itself may close');
  assert.match(html, /\\u003c\/script>/);
  assert.throws(() => figureHtml({} as never), /a figure is \{ data: trace\[\], layout\?, config\? \}/);
  assert.ok(plotlyBundle().length > 1e6 && !/<\/script/i.test(plotlyBundle()));
});

/** A stand-in for the kernel's tslab: display.ts finds it through require.cache like the real one. */
function withFakeTslab(fn: (log: { id: string | undefined; html: string }[]) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-'));
  const dist = path.join(dir, 'tslab', 'dist');
  fs.mkdirSync(dist, { recursive: true });
  fs.writeFileSync(path.join(dist, 'jupyter.js'), 'exports.lastWriteDisplayData = () => {};\n');
  fs.writeFileSync(path.join(dist, 'public.js'), 'module.exports = globalThis.__fakeTslab;\n');
  const log: { id: string | undefined; html: string }[] = [];
  let n = 0;
  const make = (id?: string) => ({ html: (s: string) => log.push({ id, html: s }), text: (s: string) => log.push({ id, html: s }) });
  const g = globalThis as { __fakeTslab?: unknown };
  g.__fakeTslab = { display: make(), newDisplay: () => make(`d${++n}`) };
  require(path.join(dist, 'jupyter.js')); // now in require.cache, as in a kernel
  try {
    fn(log);
  } finally {
    for (const f of ['jupyter.js', 'public.js']) delete require.cache[path.join(dist, f)];
    delete g.__fakeTslab;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('in a notebook: tables as HTML, plotly bundle emitted once, progress rewrites one display', () => {
  assert.equal(inNotebook(), false);
  withFakeTslab((log) => {
    assert.equal(inNotebook(), true);
    show(rows);
    assert.match(log[0].html, /^<div class="midtrain-table">/);

    plot({ data: [{ type: 'scatter', y: [1, 2] }] });
    plot({ data: [{ type: 'scatter', y: [3, 4] }] });
    const figs = log.slice(1);
    assert.equal(figs.length, 2);
    assert.ok(figs[0].html.includes('plotly.js v') && figs[0].html.includes('Plotly.newPlot'), 'first plot carries the bundle');
    assert.ok(!figs[1].html.includes('plotly.js v') && figs[1].html.includes('Plotly.newPlot'), 'second plot does not');

    const before = log.length;
    const bar = progress(3, 'steps');
    bar.update(3, { loss: 1.25 });
    bar.done();
    const updates = log.slice(before);
    assert.ok(updates.length >= 2);
    assert.ok(updates.every((u) => u.id === updates[0].id && u.id !== undefined), 'all progress output goes to one display id');
    assert.match(updates[updates.length - 1].html, /value="3" max="3".*100\.0% 3\/3.*loss 1\.25/);
  });
  assert.equal(inNotebook(), false);
});

test('savePlot writes a self-contained HTML page and a PNG of the requested size', { skip: !fs.existsSync(chromiumPath()) && `no Chromium at ${chromiumPath()}` }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-fig-'));
  try {
    const out = await savePlot({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 3] }], layout: { title: { text: 'test' } } }, path.join(dir, 'sub', 'fig'), { width: 300, height: 200, scale: 1 });
    assert.equal(out.html, path.join(dir, 'sub', 'fig.html'));
    const html = fs.readFileSync(out.html, 'utf8');
    assert.ok(html.includes('plotly.js v') && !/<script[^>]*\ssrc=/.test(html), 'bundle inlined, no external script');
    const png = fs.readFileSync(out.png!);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.equal(png.readUInt32BE(16), 300, 'PNG width');
    assert.equal(png.readUInt32BE(20), 200, 'PNG height');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')).sort(), ['fig.html', 'fig.png'], 'no temp files left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('savePlot without Chromium fails with one line naming the path and the fix', async () => {
  const saved = process.env.MIDTRAIN_CHROMIUM;
  process.env.MIDTRAIN_CHROMIUM = '/nonexistent/chromium';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-fig-'));
  try {
    await assert.rejects(savePlot({ data: [] }, path.join(dir, 'f')), /^Error: midtrain: PNG export needs Chromium at \/nonexistent\/chromium \(Debian: apt-get install chromium/);
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_CHROMIUM; else process.env.MIDTRAIN_CHROMIUM = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('notebook HTML reports load plotly from a file beside them instead of carrying the bundle', () => {
  const page = `<html><body>${plotlyScriptTag()}\n${figureHtml({ data: [{ type: 'scatter', y: [1] }] })}</body></html>`;
  const out = externalizePlotly(page, '../../node_modules');
  assert.equal(out.replaced, true);
  assert.ok(!out.html.includes('plotly.js v'), 'bundle removed');
  assert.ok(out.html.includes(`src="${PLOTLY_FILE}"`) && out.html.includes('../../node_modules/plotly.js-dist-min/plotly.min.js'), 'sibling file, then node_modules');
  assert.ok(out.html.indexOf(PLOTLY_FILE) < out.html.indexOf('Plotly.newPlot'), 'loaded before the first figure');
  assert.ok(!/document\.write\('[^']*<\/script>/.test(out.html), 'the fallback\'s own </script> is escaped inside the script');
  assert.ok(out.html.length < 20000);
  assert.deepEqual(externalizePlotly('<p>no figures</p>'), { html: '<p>no figures</p>', replaced: false });
});
