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
import type { StepLog } from '../runs/types';

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
  /** A title above the table (what it is, in words). */
  title?: string;
  /** A note under the title, e.g. what each ± or interval covers. */
  caption?: string;
  /** Decimals per column name; other numeric columns get one shared count each (see columnDecimals). */
  decimals?: Record<string, number>;
}

/** What a table builder can say about its table, carried with the table object to show() and reports. */
export interface TableInfo {
  title?: string;
  caption?: string;
  decimals?: Record<string, number>;
}

const tableInfos = new WeakMap<object, TableInfo>();

/**
 * Attaches a title, a caption (what its intervals cover) and column decimals to a table; show() and a
 * notebook report's table() use them unless the call site passes its own. Returns the same table.
 */
export function describeTable<T extends Tabular>(t: T, info: TableInfo): T {
  tableInfos.set(t as object, { ...tableInfos.get(t as object), ...info });
  return t;
}

/** The title, caption and decimals attached to a table with describeTable (empty when none). */
export function tableInfo(t: Tabular): TableInfo {
  return tableInfos.get(t as object) ?? {};
}

/** Call-site options over the table's own description. */
function withInfo(t: Tabular, opts: ShowOptions): ShowOptions {
  const info = tableInfo(t);
  return { ...info, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)), decimals: { ...info.decimals, ...opts.decimals } };
}

/** A number already formatted by a table builder: "6.971", "7.5%", "2.100 ± 0.248", "—". */
const NUMBER_TEXT = /^(—|[-+−]?\d[\d,]*(\.\d+)?%?( ± \d[\d,]*(\.\d+)?%?)?)$/;

/** Per column: true when every shown value is a number or a formatted number (or empty), so it is right-aligned. */
function numericColumns(v: TableView): boolean[] {
  return v.columns.map((_, j) => v.rows.length > 0 && v.rows.some((r) => r[j] != null && r[j] !== '—') &&
    v.rows.every((r) => r[j] == null || isNumeric(r[j]) || (typeof r[j] === 'string' && NUMBER_TEXT.test(r[j] as string))));
}

/** Decimals `v` needs at `digits` significant digits, trailing zeros dropped (0.500 → 1). */
function decimalsNeeded(v: number, digits: number): number {
  const s = String(Number(v.toPrecision(digits)));
  const dot = s.indexOf('.');
  return s.includes('e') ? 0 : dot >= 0 ? s.length - dot - 1 : 0;
}

/**
 * One number of decimals for a column's values, so a column never shows 6.45 beside 6.143: 4 significant
 * digits for its largest value (6.45 → 6.450; but a set constant such as 0.001 stays 0.001), and at least 2
 * for its smallest; at most 6. Undefined for all-integer columns (shown in full). Values shown in exponent form
 * (below 1e-3 or from 1e6) are left out.
 */
export function columnDecimals(values: unknown[]): number | undefined {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (!nums.some((v) => !Number.isInteger(v))) return undefined;
  const fixed = nums.map(Math.abs).filter((a) => a !== 0 && a >= 1e-3 && a < 1e6);
  if (fixed.length === 0) return 0;
  const largest = Math.max(...fixed);
  const smallest = Math.min(...fixed);
  const forLargest = Math.max(0, 3 - Math.floor(Math.log10(largest)));
  // A largest value of 1–2 significant digits is a set constant (LR 0.001, weight 0.5): no padding to 0.001000.
  const digits = String(Number(largest.toPrecision(4))).replace(/^0\.0*|\./g, '').length;
  const decimals = digits <= 2 ? Math.max(...fixed.map((a) => decimalsNeeded(a, 4))) : forLargest;
  return Math.min(6, Math.max(decimals, decimalsNeeded(smallest, 2)));
}

/** A cell with its column's decimals (numbers in the fixed-point range only; see formatCell for the rest). */
function formatWith(v: unknown, decimals: number | undefined): string {
  if (decimals === undefined || typeof v !== 'number' || !Number.isFinite(v)) return formatCell(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return formatCell(v);
  return v.toFixed(decimals);
}

/** The shown rows as text, each column with one number of decimals. */
function formattedRows(v: TableView, opts: ShowOptions): string[][] {
  const decimals = v.columns.map((c, j) => opts.decimals?.[c] ?? columnDecimals(v.rows.map((r) => r[j])));
  return v.rows.map((r) => r.map((c, j) => formatWith(c, decimals[j])));
}

/** The table as a self-contained HTML <table> (inline styles, so it looks the same in Jupyter and in reports). */
export function tableHtml(t: Tabular, options: ShowOptions = {}): string {
  const opts = withInfo(t, options);
  const v = tableView(t, opts.maxRows ?? 20);
  const numeric = numericColumns(v);
  const cells = formattedRows(v, opts);
  // nowrap: a model name or a "mean ± CI" must not break mid-name; a wide table scrolls instead.
  const align = (num: boolean) => `text-align:${num ? 'right' : 'left'};padding:2px 8px;white-space:nowrap`;
  const th = (text: string, num: boolean) => `<th style="${align(num)};border-bottom:1px solid #999">${escapeHtml(text)}</th>`;
  const head = (v.index ? th('', true) : '') + v.columns.map((c, j) => th(c, numeric[j])).join('');
  const body = cells.map((r, i) => {
    const idx = v.index ? `<th style="${align(true)};font-weight:normal;color:#666">${escapeHtml(String(v.index[i]))}</th>` : '';
    return `<tr>${idx}${r.map((c, j) => `<td style="${align(numeric[j])};font-variant-numeric:tabular-nums">${escapeHtml(c)}</td>`).join('')}</tr>`;
  }).join('\n');
  const more = v.totalRows > v.rows.length ? `<div style="color:#666;font-size:90%">${v.rows.length} of ${v.totalRows} rows shown</div>` : '';
  // Divs rather than <caption>: a caption wraps to the table's width, which is narrow for small tables.
  const title = opts.title ? `<div class="midtrain-table-title" style="font-weight:bold;margin:4px 0">${escapeHtml(opts.title)}</div>` : '';
  const caption = opts.caption ? `<div class="midtrain-table-caption" style="color:#555;font-size:90%;margin:0 0 4px 0;max-width:60em">${escapeHtml(opts.caption)}</div>` : '';
  return `<div class="midtrain-table">${title}${caption}<div style="overflow-x:auto"><table style="border-collapse:collapse;font-size:90%"><thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>${more}</div>`;
}

/** The table as aligned plain text, for terminals and logs. */
export function tableText(t: Tabular, options: ShowOptions = {}): string {
  const opts = withInfo(t, options);
  const v = tableView(t, opts.maxRows ?? 20);
  const header = [...(v.index ? [''] : []), ...v.columns];
  const cells = formattedRows(v, opts);
  const rows = cells.map((r, i) => [...(v.index ? [String(v.index[i])] : []), ...r]);
  const numericCol = [...(v.index ? [true] : []), ...numericColumns(v)];
  const width = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cs: string[]) => cs.map((c, j) => (numericCol[j] ? c.padStart(width[j]) : c.padEnd(width[j]))).join('  ').trimEnd();
  const out = [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (opts.caption) out.unshift(opts.caption);
  if (opts.title) out.unshift(opts.title);
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
  /** One line under the figure: what to look at and which way is better. */
  caption?: string;
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
 * it, so eight reports do not carry eight copies. The copy travels with the report (it is committed beside
 * it): a page loads nothing from outside its folder. Returns the HTML unchanged without a bundle.
 */
export function externalizePlotly(html: string): { html: string; replaced: boolean } {
  const tag = plotlyScriptTag();
  if (!html.includes(tag)) return { html, replaced: false };
  const loader = `<script type="text/javascript" src="${PLOTLY_FILE}"></script>`;
  return { html: html.split(tag).join(loader), replaced: true };
}

let figureCounter = 0;

/** JSON for inline <script>: `</script>` and U+2028/9 inside strings must not end or break the script. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v ?? {}).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * A <div> and the script that draws the figure into it, with the figure's caption under it, all inside one
 * block `<id>-block` (what a PNG export screenshots). Needs the bundle on the page (plotlyScriptTag).
 */
export function figureHtml(fig: PlotlyFigure, id = `midtrain-fig-${process.pid}-${++figureCounter}`): string {
  if (!fig || !Array.isArray(fig.data)) throw new Error('midtrain: a figure is { data: trace[], layout?, config? }');
  const config = { responsive: true, displaylogo: false, ...fig.config };
  const width = typeof fig.layout?.width === 'number' ? `max-width:${fig.layout.width}px;` : '';
  const caption = fig.caption ? `\n<div class="midtrain-caption" style="${width}margin:2px 0 10px 0;padding:0 8px;color:#444;font-size:90%;font-family:sans-serif">${escapeHtml(fig.caption)}</div>` : '';
  // A fixed height keeps plotly's container from stretching to the window's height (caption pushed far down).
  const height = typeof fig.layout?.height === 'number' ? ` style="height:${fig.layout.height}px"` : '';
  return `<div id="${id}-block" class="midtrain-figure-block"><div id="${id}" class="midtrain-figure"${height}></div>${caption}</div>
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
    display.html(`<div class="midtrain-progress" style="font-family:monospace;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">${escapeHtml(label)} <progress value="${state.done}" max="${total}" style="width:220px;vertical-align:middle"></progress> ${pct}% ${state.done}/${total} · ${etaText(elapsed)} elapsed · eta ${etaText(eta)}${Object.keys(state.fields).length ? ' · ' + escapeHtml(fieldText(state.fields)) : ''}</div>`);
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

// ---------------------------------------------------------------------------------------------------------
// Progress of a study: a bar over its runs with, nested under it, the run now training (steps, tok/s, loss,
// ETA), and a live loss curve of that run. Runs that come back from the store show no run line or curve.

export interface RunProgress {
  /** A step log of the run (train loss every step, val losses on eval steps). */
  log(l: StepLog): void;
  /** The run finished (its last state is drawn). */
  done(): void;
}

export interface StudyProgress {
  /** `done` runs of the study are finished (trained or reused); the run line goes until the next run trains. */
  update(done: number, fields?: Record<string, number | string>): void;
  /** A run starts training from startStep of totalSteps. */
  startRun(name: string, totalSteps: number, startStep?: number): RunProgress;
  done(): void;
}

/** Minimum time between two redraws of the live loss curve (each is a whole figure sent to the browser). */
const LIVE_CURVE_MS = 500;
/** Points per trace of the live curve; longer runs are thinned evenly (the last point always kept). */
const LIVE_CURVE_POINTS = 600;

/** Shortens a run name in the middle ("tiny/sft-pycode-we…-lr0.001-s0") so a progress line does not wrap. */
export function shortRunName(name: string, max = 36): string {
  if (name.length <= max) return name;
  const tail = Math.floor((max - 1) / 2);
  return `${name.slice(0, max - 1 - tail)}…${name.slice(name.length - tail)}`;
}

function rateText(tokensPerSec: number | undefined): string {
  if (tokensPerSec === undefined || !Number.isFinite(tokensPerSec)) return '';
  return tokensPerSec >= 1000 ? `${(tokensPerSec / 1000).toFixed(1)}k tok/s` : `${Math.round(tokensPerSec)} tok/s`;
}

/** Keeps at most n points of (x, y), evenly spaced, always with the last one. */
function thin(x: number[], y: number[], n: number): { x: number[]; y: number[] } {
  if (x.length <= n) return { x, y };
  const idx = new Set<number>();
  for (let i = 0; i < n; i++) idx.add(Math.round((i * (x.length - 1)) / (n - 1)));
  const keep = [...idx].sort((a, b) => a - b);
  return { x: keep.map((i) => x[i]), y: keep.map((i) => y[i]) };
}

/** The live loss figure of one run: train loss per step, val losses as markers. */
export function liveLossFigure(name: string, totalSteps: number, logs: StepLog[]): PlotlyFigure {
  const train = thin(logs.map((l) => l.step), logs.map((l) => l.trainLoss), LIVE_CURVE_POINTS);
  // Markers while there are few steps: a one-step line would draw nothing.
  const data: PlotlyTrace[] = [{ type: 'scatter', mode: train.x.length < 60 ? 'lines+markers' : 'lines', name: 'train loss', x: train.x, y: train.y, line: { color: '#1f77b4', width: 1.5 }, marker: { size: 4 } }];
  // The val losses a run is judged by: general (forgetting / pretraining quality) and, in SFT, the task's own.
  const colors = { general: '#000000', sft: '#d62728' } as const;
  for (const key of ['general', 'sft'] as const) {
    const pts = logs.filter((l) => l.val?.[key] !== undefined);
    if (pts.length === 0) continue;
    data.push({ type: 'scatter', mode: 'lines+markers', name: `val ${key}`, x: pts.map((l) => l.step), y: pts.map((l) => l.val![key]!),
      line: { color: colors[key], width: 1, dash: 'dot' }, marker: { size: 6 } });
  }
  const last = logs[logs.length - 1];
  const step = last?.step ?? 0;
  return {
    data,
    layout: {
      title: { text: step < totalSteps ? `Training now: ${shortRunName(name, 60)} — step ${step}/${totalSteps}` : `Trained just now: ${shortRunName(name, 60)} (${totalSteps} steps)` },
      xaxis: { title: { text: 'step' }, range: [logs[0] ? Math.max(0, logs[0].step - 1) : 0, totalSteps] },
      yaxis: { title: { text: 'loss' } },
      width: 720, height: 320, margin: { l: 60, r: 20, t: 50, b: 45 }, template: 'plotly_white',
    },
    config: { staticPlot: true },
    caption: 'Loss of the run training now, redrawn as it trains; lower is better. Dotted: val loss on general data (and on the task, in SFT).',
  };
}

/** A progress display for a study of `total` runs (notebook: one output for the bars, one for the live curve). */
export function studyProgress(total: number, label: string): StudyProgress {
  const tl = tslab();
  return tl ? notebookStudy(tl, total, label) : terminalStudy(total, label);
}

function notebookStudy(tl: TslabPublic, total: number, label: string): StudyProgress {
  const bars = tl.newDisplay();
  let curve: TslabDisplay | undefined;
  const started = Date.now();
  let runsDone = 0;
  let studyFields: Record<string, number | string> = {};
  let run: { name: string; total: number; start: number; started: number; logs: StepLog[] } | undefined;
  let lastBars = 0;
  let lastCurve = 0;
  const curveId = `midtrain-live-loss-${process.pid}-${++figureCounter}`;
  const line = 'font-family:monospace;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:100%';
  const renderBars = () => {
    const elapsed = (Date.now() - started) / 1000;
    const eta = runsDone > 0 ? (elapsed / runsDone) * (total - runsDone) : NaN;
    const pct = total > 0 ? ((100 * runsDone) / total).toFixed(0) : '0';
    const extra = Object.keys(studyFields).length ? ' · ' + escapeHtml(fieldText(studyFields)) : '';
    let html = `<div class="midtrain-progress" style="${line}">${escapeHtml(label)} <progress value="${runsDone}" max="${total}" style="width:220px;vertical-align:middle"></progress> ${pct}% ${runsDone}/${total} runs · ${etaText(elapsed)} elapsed · eta ${etaText(eta)}${extra}</div>`;
    if (run) {
      const last = run.logs[run.logs.length - 1];
      const step = last?.step ?? run.start;
      const secs = (Date.now() - run.started) / 1000;
      const stepsDone = step - run.start;
      const runEta = stepsDone > 0 ? (secs / stepsDone) * (run.total - step) : NaN;
      const parts = [`step ${step}/${run.total}`, rateText(last?.tokensPerSec), last ? `loss ${last.trainLoss.toFixed(3)}` : '', step >= run.total ? `done in ${etaText(secs)}` : `eta ${etaText(runEta)}`].filter(Boolean);
      html += `<div class="midtrain-progress midtrain-run-progress" style="${line};padding-left:2ch" title="${escapeHtml(run.name)}">└ ${escapeHtml(shortRunName(run.name))} <progress value="${step}" max="${run.total}" style="width:160px;vertical-align:middle"></progress> ${parts.join(' · ')}</div>`;
    }
    bars.html(html);
  };
  const renderCurve = () => {
    if (!run || run.logs.length === 0) return;
    if (!curve) {
      if (!bundleShown) loadPlotly();
      curve = tl.newDisplay();
    }
    curve.html(figureHtml(liveLossFigure(run.name, run.total, run.logs), curveId));
  };
  renderBars();
  return {
    update(done, fields) {
      runsDone = done;
      if (fields) studyFields = fields;
      lastBars = Date.now();
      renderBars();
    },
    startRun(name, totalSteps, startStep = 0) {
      const current = { name, total: totalSteps, start: startStep, started: Date.now(), logs: [] as StepLog[] };
      run = current;
      renderBars();
      return {
        log(l) {
          if (run !== current) return;
          current.logs.push(l);
          const now = Date.now();
          if (now - lastBars >= NOTEBOOK_UPDATE_MS) { lastBars = now; renderBars(); }
          if (now - lastCurve >= LIVE_CURVE_MS) { lastCurve = now; renderCurve(); }
        },
        done() {
          if (run !== current) return;
          renderBars();
          renderCurve();
        },
      };
    },
    done() {
      run = undefined;
      renderBars();
    },
  };
}

function terminalStudy(total: number, label: string): StudyProgress {
  const bar = progress(total, label);
  let runsDone = 0;
  let fields: Record<string, number | string> = {};
  return {
    update(done, f) {
      runsDone = done;
      if (f) fields = f;
      bar.update(done, fields);
    },
    startRun(name, totalSteps) {
      return {
        log(l) { bar.update(runsDone, { run: shortRunName(name), step: `${l.step}/${totalSteps}`, loss: +l.trainLoss.toFixed(3) }); },
        done() { bar.update(runsDone, fields); },
      };
    },
    done() { bar.done(); },
  };
}
