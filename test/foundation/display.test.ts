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
  columnDecimals, describeTable, studyProgress, shortRunName, liveLossFigure,
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
  assert.equal(lines[3], 'code<b>   2.500       7');
  assert.equal(lines[4], '(2 of 3 rows shown)');
});

test('HTML table escapes cells and right-aligns numeric columns', () => {
  const html = tableHtml(rows, { title: 'runs & losses', caption: 'what ± covers' });
  assert.match(html, /class="midtrain-table-title"[^>]*>runs &amp; losses</);
  assert.match(html, /class="midtrain-table-caption"[^>]*>what ± covers</);
  assert.ok(html.indexOf('runs &amp; losses') < html.indexOf('what ± covers') && html.indexOf('what ± covers') < html.indexOf('<table'), 'title, caption, then the table');
  assert.match(html, /code&lt;b&gt;/);
  assert.doesNotMatch(html, /code<b>/);
  assert.match(html, /<th style="text-align:left[^"]*">model<\/th><th style="text-align:right[^"]*">loss<\/th>/);
  assert.equal(html.match(/<t[dh] style="[^"]*white-space:nowrap/g)?.length, 3 + 3 * 3, 'no cell or header wraps');
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
async function withFakeTslab(fn: (log: { id: string | undefined; html: string }[]) => void | Promise<void>): Promise<void> {
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
    await fn(log);
  } finally {
    for (const f of ['jupyter.js', 'public.js']) delete require.cache[path.join(dist, f)];
    delete g.__fakeTslab;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('in a notebook: tables as HTML, plotly bundle emitted once, progress rewrites one display', async () => {
  assert.equal(inNotebook(), false);
  await withFakeTslab((log) => {
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
  const out = externalizePlotly(page);
  assert.equal(out.replaced, true);
  assert.ok(!out.html.includes('plotly.js v'), 'bundle removed');
  assert.ok(out.html.includes(`src="${PLOTLY_FILE}"`), 'the copy beside the report');
  assert.ok(!out.html.includes('node_modules'), 'nothing outside the report folder');
  assert.ok(out.html.indexOf(PLOTLY_FILE) < out.html.indexOf('Plotly.newPlot'), 'loaded before the first figure');
  assert.ok(out.html.length < 20000);
  assert.deepEqual(externalizePlotly('<p>no figures</p>'), { html: '<p>no figures</p>', replaced: false });
});

test('one number of decimals per column: 4 significant digits for its largest value, 2 for its smallest', () => {
  assert.equal(columnDecimals([6.45, 6.143]), 3);
  assert.equal(columnDecimals([0.08793, 32.77135, 87.3]), 3, 'largest at 4 digits needs 2, smallest at 2 digits needs 3');
  assert.equal(columnDecimals([0.001, 0.003]), 3, 'set constants are not padded');
  assert.equal(columnDecimals([0.2, 0.5]), 1);
  assert.equal(columnDecimals([6.45]), 3, 'a measured loss keeps 4 significant digits even alone');
  assert.equal(columnDecimals([1, 2, 3]), undefined, 'integers in full');
  assert.equal(columnDecimals(['a', null, 2.5]), 1);
  const text = tableText([{ m: 'a', loss: 6.45 }, { m: 'b', loss: 6.143 }]);
  assert.deepEqual(text.split('\n').slice(2), ['a  6.450', 'b  6.143']);
  assert.match(tableText([{ lr: 0.001 }, { lr: 0.0001 }]), /0\.001\n1\.000e-4/, 'exponent form where fixed point would hide the value');
  assert.match(tableText([{ loss: 6.45 }], { decimals: { loss: 1 } }), /6\.5$/, 'a caller can fix a column\'s decimals');
  // Numbers a builder already formatted ("mean ± CI", percentages) right-align like numbers; words do not.
  const html = tableHtml([{ m: 'a', ci: '2.100 ± 0.248', p: '7.5%', w: '—' }, { m: 'b', ci: '12.000 ± 1.000', p: '—', w: '—' }]);
  assert.match(html, /<th style="text-align:left[^"]*">m<\/th><th style="text-align:right[^"]*">ci<\/th><th style="text-align:right[^"]*">p<\/th><th style="text-align:left[^"]*">w<\/th>/);
});

test('a table carries its title and caption to show() and reports; the call site can override them', () => {
  const t = describeTable([{ a: 1.5 }], { title: 'T', caption: '95% CI over seeds' });
  assert.match(tableHtml(t), /midtrain-table-title[^>]*>T<.*midtrain-table-caption[^>]*>95% CI over seeds</s);
  assert.match(tableHtml(t, { title: 'Other' }), /midtrain-table-title[^>]*>Other<.*95% CI over seeds/s);
  assert.deepEqual(tableText(t).split('\n').slice(0, 2), ['T', '95% CI over seeds']);
});

test('a figure\'s caption goes under it, inside the block a PNG export screenshots', () => {
  const html = figureHtml({ data: [{ type: 'scatter', y: [1] }], caption: 'Lower is better <really>' }, 'f9');
  assert.match(figureHtml({ data: [], layout: { height: 320 } }, 'f8'), /<div id="f8" class="midtrain-figure" style="height:320px"><\/div>/);
  assert.match(html, /^<div id="f9-block" class="midtrain-figure-block"><div id="f9" class="midtrain-figure"><\/div>\n<div class="midtrain-caption"[^>]*>Lower is better &lt;really&gt;<\/div><\/div>/);
});

test('run names shorten in the middle so a progress line does not wrap', () => {
  assert.equal(shortRunName('tiny/baseline'), 'tiny/baseline');
  const long = 'tiny/sft-pycode-web-quality-w20-f66-lr0.001-s0';
  const short = shortRunName(long);
  assert.equal(short.length, 36);
  assert.ok(short.startsWith('tiny/sft-pycode') && short.endsWith('lr0.001-s0') && short.includes('…'));
});

test('in a notebook: a study bar with the training run nested under it on one line, and one live loss curve updated in place', async () => {
  await withFakeTslab(async (log) => {
    {
      const study = studyProgress(3, 'midtraining (tiny)');
      study.update(1);
      const run = study.startRun('tiny/sft-pycode-web-quality-w20-f66-lr0.001-s0', 4);
      for (let step = 1; step <= 4; step++) {
        run.log({ step, tokens: 100 * step, lr: 1e-3, trainLoss: 5 - step / 2, tokensPerSec: 2500, ...(step % 2 === 0 ? { val: { general: 5.1 - step / 4 } } : {}) });
        await new Promise((r) => setTimeout(r, 5));
      }
      run.done();
      study.update(2);
      study.done();
      const ids = [...new Set(log.map((l) => l.id))].filter((id) => id !== undefined);
      assert.equal(ids.length, 2, 'two displays: the bars and the live curve');
      const bars = log.filter((l) => l.id === ids[0]);
      const curve = log.filter((l) => l.id === ids[1]);
      const withRun = bars.map((b) => b.html).filter((h) => h.includes('midtrain-run-progress'));
      assert.ok(withRun.length > 0, 'the run line appeared');
      const last = withRun.filter((h) => h.includes('1/3 runs')).pop()!;
      assert.match(last, /1\/3 runs.*└ tiny\/sft-pycode-we…20-f66-lr0\.001-s0 <progress value="4" max="4".*step 4\/4 · 2\.5k tok\/s · loss 3\.000 · done in/s);
      assert.match(last, /white-space:nowrap;overflow:hidden;text-overflow:ellipsis/);
      assert.match(last, /title="tiny\/sft-pycode-web-quality-w20-f66-lr0\.001-s0"/, 'the full name on hover');
      assert.ok(curve.length >= 2 && curve.length <= 3, `the curve is redrawn at most twice a second plus once at the end (${curve.length})`);
      assert.match(curve[curve.length - 1].html, /Plotly\.newPlot/);
      assert.doesNotMatch(bars[bars.length - 1].html, /midtrain-run-progress/, 'the run line goes when the study is done');
      assert.match(bars[bars.length - 1].html, /2\/3 runs/);
      // The bundle goes out once per kernel as a plain display (see loadPlotly), never inside the updated curve.
      assert.ok(curve.every((c) => !c.html.includes('plotly.js v')), 'curve updates do not resend the 4.8 MB bundle');
    }
  });
});

test('the live loss figure: train loss per step, val losses as markers, long runs thinned', () => {
  const logs = Array.from({ length: 2000 }, (_, i) => ({ step: i + 1, tokens: 0, lr: 0, trainLoss: 5 - i / 1000, ...(i % 500 === 499 ? { val: { general: 4 } } : {}) }));
  const fig = liveLossFigure('run', 2000, logs);
  const train = fig.data[0] as { x: number[] };
  assert.ok(train.x.length <= 600 && train.x[train.x.length - 1] === 2000, 'thinned, last point kept');
  assert.deepEqual((fig.data[1] as { x: number[] }).x, [500, 1000, 1500, 2000]);
  assert.match(String((fig.layout!.title as { text: string }).text), /Trained just now: run \(2000 steps\)/);
  assert.match(String((liveLossFigure('run', 4000, logs).layout!.title as { text: string }).text), /Training now: run — step 2000\/4000/);
});
