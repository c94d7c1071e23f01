// Showing results in a tslab notebook: tables (arquero or danfo frames, or plain rows), plotly figures, and a
// progress bar that updates in place. Outside a notebook the same calls print text (tables, progress) or do
// nothing (figures), so library code and scripts can call them unconditionally.
//
// Why our own table HTML instead of arquero's toHTML(): danfo has no HTML method, and one formatter gives
// both the same look (right-aligned numbers, 4 significant digits, a row cap that says what it cut).
// Why the plotly bundle is inlined: notebooks and their HTML reports must render offline (no CDN); it is
// emitted once per kernel, and each figure afterwards is a <div> plus a Plotly.newPlot call.
import * as fs from 'fs';
import * as path from 'path';

// ---------------------------------------------------------------------------------------------------------
// tslab access. The kernel has loaded tslab itself; we only look it up in require.cache, so a plain Node
// process never loads tslab (and its TypeScript compiler) just to find out it is not in a notebook.

interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
}
interface TslabPublic {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

/** tslab's display API when this code runs inside a tslab kernel that is executing a cell, else undefined. */
export function tslab(): TslabPublic | undefined {
  const suffix = `${path.sep}tslab${path.sep}dist${path.sep}jupyter.js`;
  const key = Object.keys(require.cache).find((k) => k.endsWith(suffix));
  if (!key) return undefined;
  const jupyter = require.cache[key]?.exports as { lastWriteDisplayData?: unknown } | undefined;
  if (!jupyter || jupyter.lastWriteDisplayData == null) return undefined;
  return require(path.join(path.dirname(key), 'public.js')) as TslabPublic;
}

/** True inside a tslab notebook kernel. */
export function inNotebook(): boolean {
  return tslab() !== undefined;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// ---------------------------------------------------------------------------------------------------------
// Tables.

/** The duck-typed parts of an arquero table we use (arquero is ESM; we never import it here). */
interface ArqueroLike {
  numRows(): number;
  columnNames(): string[];
  objects(opts?: { limit?: number }): object[];
}
/** The duck-typed parts of a danfo DataFrame. */
interface DanfoLike {
  columns: string[];
  values: unknown[][];
  index: (string | number)[];
  shape: [number, number];
}
export type Tabular = ArqueroLike | DanfoLike | Record<string, unknown>[];

/** A frame reduced to what a formatter needs. `index` only for danfo frames. */
export interface TableView {
  columns: string[];
  rows: unknown[][];
  index?: (string | number)[];
  totalRows: number;
}

function isArquero(t: unknown): t is ArqueroLike {
  const a = t as ArqueroLike;
  return !!a && typeof a.numRows === 'function' && typeof a.columnNames === 'function' && typeof a.objects === 'function';
}
function isDanfo(t: unknown): t is DanfoLike {
  const d = t as DanfoLike;
  return !!d && Array.isArray(d.columns) && Array.isArray(d.values) && Array.isArray(d.index) && Array.isArray(d.shape);
}

/** Normalises an arquero table, a danfo DataFrame or an array of row objects, keeping at most maxRows rows. */
export function tableView(t: Tabular, maxRows = 20): TableView {
  if (isArquero(t)) {
    const columns = t.columnNames();
    return { columns, rows: (t.objects({ limit: maxRows }) as Record<string, unknown>[]).map((o) => columns.map((c) => o[c])), totalRows: t.numRows() };
  }
  if (isDanfo(t)) {
    return { columns: t.columns.map(String), rows: t.values.slice(0, maxRows), index: t.index.slice(0, maxRows), totalRows: t.shape[0] };
  }
  if (Array.isArray(t)) {
    const columns = [...new Set(t.flatMap((r) => Object.keys(r)))];
    return { columns, rows: t.slice(0, maxRows).map((r) => columns.map((c) => r[c])), totalRows: t.length };
  }
  throw new Error('midtrain: show() takes an arquero table, a danfo DataFrame or an array of row objects');
}

/** One cell as text: numbers to 4 significant digits (integers in full), dates as ISO, null/undefined empty. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return a >= 1e3 ? String(Math.round(v)) : String(Number(v.toPrecision(4)));
  }
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isNumeric(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'bigint';
}

export interface ShowOptions {
  /** Rows shown; the rest are counted in a footer. Default 20. */
  maxRows?: number;
  /** A caption above the table. */
  caption?: string;
}

/** Per column: true when every shown value is a number (or empty), so it is right-aligned. */
function numericColumns(v: TableView): boolean[] {
  return v.columns.map((_, j) => v.rows.length > 0 && v.rows.every((r) => r[j] == null || isNumeric(r[j])));
}

/** The table as a self-contained HTML <table> (inline styles, so it looks the same in Jupyter and in reports). */
export function tableHtml(t: Tabular, opts: ShowOptions = {}): string {
  const v = tableView(t, opts.maxRows ?? 20);
  const numeric = numericColumns(v);
  const align = (num: boolean) => `text-align:${num ? 'right' : 'left'};padding:2px 8px`;
  const th = (text: string, num: boolean) => `<th style="${align(num)};border-bottom:1px solid #999">${escapeHtml(text)}</th>`;
  const head = (v.index ? th('', true) : '') + v.columns.map((c, j) => th(c, numeric[j])).join('');
  const body = v.rows.map((r, i) => {
    const idx = v.index ? `<th style="${align(true)};font-weight:normal;color:#666">${escapeHtml(String(v.index[i]))}</th>` : '';
    return `<tr>${idx}${r.map((c, j) => `<td style="${align(numeric[j])};font-variant-numeric:tabular-nums">${escapeHtml(formatCell(c))}</td>`).join('')}</tr>`;
  }).join('\n');
  const more = v.totalRows > v.rows.length ? `<div style="color:#666;font-size:90%">${v.rows.length} of ${v.totalRows} rows shown</div>` : '';
  // A div rather than <caption>: a caption wraps to the table's width, which is narrow for small tables.
  const caption = opts.caption ? `<div style="font-weight:bold;margin:4px 0">${escapeHtml(opts.caption)}</div>` : '';
  return `<div class="midtrain-table">${caption}<table style="border-collapse:collapse;font-size:90%"><thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>${more}</div>`;
}

/** The table as aligned plain text, for terminals and logs. */
export function tableText(t: Tabular, opts: ShowOptions = {}): string {
  const v = tableView(t, opts.maxRows ?? 20);
  const header = [...(v.index ? [''] : []), ...v.columns];
  const rows = v.rows.map((r, i) => [...(v.index ? [String(v.index[i])] : []), ...r.map(formatCell)]);
  const numericCol = [...(v.index ? [true] : []), ...numericColumns(v)];
  const width = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (numericCol[j] ? c.padStart(width[j]) : c.padEnd(width[j]))).join('  ').trimEnd();
  const out = [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (opts.caption) out.unshift(opts.caption);
  if (v.totalRows > v.rows.length) out.push(`(${v.rows.length} of ${v.totalRows} rows shown)`);
  return out.join('\n');
}

/** Shows a table: HTML in a notebook, aligned text on a terminal. */
export function show(t: Tabular, opts: ShowOptions = {}): void {
  const tl = tslab();
  if (tl) tl.display.html(tableHtml(t, opts));
  else console.log(tableText(t, opts));
}

// ---------------------------------------------------------------------------------------------------------
// Figures: plain plotly JSON, typed minimally (no DOM types in src/).

export type PlotlyTrace = { type?: string; name?: string } & Record<string, unknown>;
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

let bundleText: string | undefined;

/** plotly.js-dist-min's bundle, safe to put inside a <script> element. */
export function plotlyBundle(): string {
  if (bundleText === undefined) {
    const file = require.resolve('plotly.js-dist-min');
    bundleText = fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return bundleText;
}

/** The bundle as a <script> element (once per page). */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript">${plotlyBundle()}</script>`;
}

/** The file name of the bundle beside a report that loads it from disk (see externalizePlotly). */
export const PLOTLY_FILE = 'plotly.min.js';

/**
 * A notebook's HTML report with the inlined bundle (4.8 MB) swapped for a <script src> to PLOTLY_FILE beside
 * it, falling back to the repository's node_modules copy — so eight reports do not carry eight copies, and
 * a committed report renders from a clone once `npm install` ran. Returns the HTML unchanged without a bundle.
 */
export function externalizePlotly(html: string, nodeModulesFromReport = '../../node_modules'): { html: string; replaced: boolean } {
  const tag = plotlyScriptTag();
  if (!html.includes(tag)) return { html, replaced: false };
  const fallback = `${nodeModulesFromReport}/plotly.js-dist-min/plotly.min.js`;
  const loader = `<script type="text/javascript" src="${PLOTLY_FILE}"></script>
<script type="text/javascript">if (typeof Plotly === 'undefined') document.write('<script type="text/javascript" src="${fallback}"><\\/script>');</script>`;
  return { html: html.split(tag).join(loader), replaced: true };
}

let figureCounter = 0;

/** JSON for inline <script>: `</script>` and U+2028/9 inside strings must not end or break the script. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v ?? {}).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A <div> and the script that draws the figure into it; needs the bundle on the page (plotlyScriptTag). */
export function figureHtml(fig: PlotlyFigure, id = `midtrain-fig-${process.pid}-${++figureCounter}`): string {
  if (!fig || !Array.isArray(fig.data)) throw new Error('midtrain: a figure is { data: trace[], layout?, config? }');
  const config = { responsive: true, displaylogo: false, ...fig.config };
  return `<div id="${id}" class="midtrain-figure"></div>
<script type="text/javascript">(function () {
  var el = document.getElementById(${JSON.stringify(id)});
  if (typeof Plotly === 'undefined') { el.textContent = 'Plotly is not loaded on this page: run mt.loadPlotly() (or restart the kernel) and re-run this cell.'; return; }
  Plotly.newPlot(el, ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, ${scriptJson(config)});
})();</script>`;
}

let bundleShown = false;

/** Emits the plotly bundle into the notebook (done automatically by the first plot; call again after a page reload). */
export function loadPlotly(): void {
  const tl = tslab();
  if (!tl) return;
  tl.display.html(plotlyScriptTag());
  bundleShown = true;
}

/** Shows a plotly figure inline in a notebook (bundle inlined once per kernel). Outside a notebook: nothing. */
export function plot(fig: PlotlyFigure): void {
  const tl = tslab();
  if (!tl) return;
  const html = figureHtml(fig);
  tl.display.html(bundleShown ? html : `${plotlyScriptTag()}\n${html}`);
  bundleShown = true;
}

// ---------------------------------------------------------------------------------------------------------
// Progress.

export interface Progress {
  /** Sets the count done so far, with optional named values shown beside the bar (loss, tok/s, …). */
  update(done: number, fields?: Record<string, number | string>): void;
  /** Marks the end (shows the final state once more). */
  done(): void;
}

/** Minimum time between two notebook display updates: each is a message to the browser. */
const NOTEBOOK_UPDATE_MS = 250;

function fieldText(fields: Record<string, number | string>): string {
  return Object.entries(fields).map(([k, v]) => `${k} ${formatCell(v)}`).join(' · ');
}

function etaText(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A progress bar: in a notebook, one output that is rewritten in place (tslab.newDisplay); on a terminal,
 * cli-progress (a line every 10 s when the output is not a TTY, so logs stay readable).
 */
export function progress(total: number, label = ''): Progress {
  const tl = tslab();
  if (tl) return notebookProgress(tl, total, label);
  return terminalProgress(total, label);
}

function notebookProgress(tl: TslabPublic, total: number, label: string): Progress {
  const display = tl.newDisplay();
  const started = Date.now();
  let last = 0;
  let state = { done: 0, fields: {} as Record<string, number | string> };
  const render = () => {
    const frac = total > 0 ? Math.min(1, state.done / total) : 0;
    const elapsed = (Date.now() - started) / 1000;
    const eta = state.done > 0 ? (elapsed / state.done) * (total - state.done) : NaN;
    const pct = (frac * 100).toFixed(1);
    display.html(`<div style="font-family:monospace">${escapeHtml(label)} <progress value="${state.done}" max="${total}" style="width:40%"></progress> ${pct}% ${state.done}/${total} · ${etaText(elapsed)} elapsed · eta ${etaText(eta)}${Object.keys(state.fields).length ? ' · ' + escapeHtml(fieldText(state.fields)) : ''}</div>`);
  };
  render();
  return {
    update(done, fields) {
      state = { done, fields: fields ?? state.fields };
      const now = Date.now();
      if (now - last >= NOTEBOOK_UPDATE_MS || done >= total) { last = now; render(); }
    },
    done() { render(); },
  };
}

function terminalProgress(total: number, label: string): Progress {
  // Loaded lazily: only terminal runs need it.
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar({
    format: `${label ? label + ' ' : ''}[{bar}] {percentage}% {value}/{total} · eta {eta_formatted}{fields}`,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    hideCursor: false,
    stream: process.stdout,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { fields: '' });
  let stopped = false;
  return {
    update(done, fields) {
      if (stopped) return;
      bar.update(done, fields ? { fields: ' · ' + fieldText(fields) } : undefined);
    },
    done() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
