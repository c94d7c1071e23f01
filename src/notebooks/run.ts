// Headless notebook runner: execute notebooks/*.ipynb on a preset, keep the committed files untouched, write
// the executed copy to out/notebooks/<preset>/ and the HTML report to reports/<preset>/<name>.html.
//
// Notebooks run one after another (the machines have few cores and a notebook may train). Each runs in
// its own process (execute-notebook.py, nbconvert's ExecutePreprocessor) with MIDTRAIN_PRESET set, which
// the notebook reads with notebookPreset(). A failing cell stops that notebook and is reported as
// "notebook <name>, cell <n>: <ename>: <evalue>", read back from the executed .ipynb.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS, PresetName, projectRoot, reportsDir } from '../config';
import { KERNEL_NAME, jupyterEnv, jupyterPython } from './jupyter';
import { plotlyBundle, PLOTLY_FILE } from '../report/display';
import { portableReport } from '../report/portable';
import { writeFileAtomic } from '../report/export';

/** Default per-cell timeout: long enough for a small training run in a cell, short enough to catch a hang. */
export const DEFAULT_CELL_TIMEOUT_S = 1800;

/** The preset a notebook should run on: MIDTRAIN_PRESET (set by the runner), default 'tiny'. */
export function notebookPreset(): PresetName {
  return parsePreset(process.env.MIDTRAIN_PRESET ?? 'tiny', 'MIDTRAIN_PRESET');
}

export function parsePreset(value: string, source: string): PresetName {
  if ((PRESETS as readonly string[]).includes(value)) return value as PresetName;
  throw new Error(`midtrain: ${source}="${value}" is not a preset; use one of ${PRESETS.join(', ')}`);
}

export function notebooksDir(): string {
  return path.join(projectRoot(), 'notebooks');
}

/** The notebooks in a folder, in name order (00-…, 01-…), without Jupyter's checkpoint copies. */
export function listNotebooks(dir = notebooksDir()): string[] {
  if (!fs.existsSync(dir)) throw new Error(`midtrain: notebook folder ${dir} does not exist`);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort().map((f) => path.join(dir, f));
}

/**
 * Resolves names given on the command line: a path to an .ipynb, a file name with or without .ipynb, or a
 * number prefix ('01' for 01-baseline.ipynb). Unknown names are an error listing what exists.
 */
export function resolveNotebooks(names: string[], dir = notebooksDir()): string[] {
  const all = listNotebooks(dir);
  if (names.length === 0) return all;
  return names.map((n) => {
    if (n.endsWith('.ipynb') && fs.existsSync(n)) return path.resolve(n);
    const base = path.basename(n).replace(/\.ipynb$/, '');
    const hits = all.filter((f) => {
      const stem = path.basename(f, '.ipynb');
      return stem === base || stem.startsWith(`${base}-`);
    });
    if (hits.length === 1) return hits[0];
    const known = all.map((f) => path.basename(f, '.ipynb')).join(', ') || '(none)';
    throw new Error(`midtrain: notebook "${n}" ${hits.length ? 'is ambiguous' : 'not found'} in ${dir}; notebooks: ${known}`);
  });
}

/** A failed cell, as read back from the executed notebook. `cell` counts all cells from 1, as Jupyter shows them. */
export interface NotebookFailure {
  notebook: string;
  cell: number;
  /** Position among code cells (1-based), since markdown cells have no execution count. */
  codeCell: number;
  ename: string;
  evalue: string;
  /** First line of the cell's source, to find it at a glance. */
  source: string;
}

export function formatFailure(f: NotebookFailure): string {
  return `notebook ${f.notebook}, cell ${f.cell}: ${f.ename}: ${f.evalue}`;
}

interface IpynbCell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; ename?: string; evalue?: string }[];
}

/** The first cell with an `error` output in an executed .ipynb, or undefined when none failed. */
export function readFailure(executedIpynb: string, notebook = path.basename(executedIpynb, '.ipynb')): NotebookFailure | undefined {
  let nb: { cells?: IpynbCell[] };
  try {
    nb = JSON.parse(fs.readFileSync(executedIpynb, 'utf8'));
  } catch (e) {
    throw new Error(`midtrain: cannot read executed notebook ${executedIpynb}: ${(e as Error).message}`);
  }
  let code = 0;
  for (const [i, cell] of (nb.cells ?? []).entries()) {
    if (cell.cell_type === 'code') code++;
    const err = cell.outputs?.find((o) => o.output_type === 'error');
    if (!err) continue;
    const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    return {
      notebook, cell: i + 1, codeCell: code,
      ename: err.ename ?? 'Error', evalue: err.evalue ?? '',
      source: (src.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 120),
    };
  }
  return undefined;
}

export class NotebookError extends Error {
  constructor(readonly failure: NotebookFailure) {
    super(formatFailure(failure));
    this.name = 'NotebookError';
  }
}

export interface RunOptions {
  /** Preset passed to the kernel as MIDTRAIN_PRESET. Default 'tiny'. */
  preset?: PresetName;
  /** Executed .ipynb (and the HTML of a failed notebook) go here. Default out/notebooks/<preset>. */
  outDir?: string;
  /** HTML of a notebook that ran through goes here. Default reports/<preset>. */
  reportDir?: string;
  /** Per-cell timeout in seconds. Default MIDTRAIN_CELL_TIMEOUT or 1800. */
  cellTimeoutS?: number;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
}

export interface NotebookResult {
  notebook: string;
  ok: boolean;
  seconds: number;
  /** The executed copy. */
  executed: string;
  /** The HTML export: in reportDir when ok, beside the executed copy when it failed. */
  html: string;
  failure?: NotebookFailure;
}

function driverPath(): string {
  return path.join(projectRoot(), 'src', 'notebooks', 'execute-notebook.py');
}

function resolved(opts: RunOptions): Required<RunOptions> {
  const preset = opts.preset ?? 'tiny';
  const envTimeout = process.env.MIDTRAIN_CELL_TIMEOUT;
  const cellTimeoutS = opts.cellTimeoutS ?? (envTimeout ? Number(envTimeout) : DEFAULT_CELL_TIMEOUT_S);
  if (!Number.isFinite(cellTimeoutS) || cellTimeoutS <= 0) throw new Error(`midtrain: MIDTRAIN_CELL_TIMEOUT="${envTimeout}" is not a positive number of seconds`);
  return {
    preset,
    outDir: opts.outDir ?? path.join(projectRoot(), 'out', 'notebooks', preset),
    reportDir: opts.reportDir ?? reportsDir(preset),
    cellTimeoutS,
    log: opts.log ?? ((l) => console.log(l)),
  };
}

/**
 * tslab's TypeScript watcher can fail a cell on its own ("Unexpected pending rebuildTimer") when files it
 * watches change during a session; that is the kernel's fault, not the notebook's, so such a run is
 * repeated once (with the run store, finished runs are not trained again).
 */
export function isKernelGlitch(f: NotebookFailure): boolean {
  return f.ename === 'TslabInternalError' && f.evalue.includes('Unexpected pending rebuildTimer');
}

/** Executes one notebook. Resolves with ok: false and the failure when a cell fails; rejects only when it could not run at all. */
export async function runNotebook(file: string, options: RunOptions = {}): Promise<NotebookResult> {
  const first = await runNotebookOnce(file, options);
  if (first.ok || !isKernelGlitch(first.failure!)) return first;
  resolved(options).log(`[notebooks] ${first.notebook}: tslab's compiler failed on its own (${first.failure!.evalue}); running the notebook once more`);
  return runNotebookOnce(file, options);
}

async function runNotebookOnce(file: string, options: RunOptions): Promise<NotebookResult> {
  const o = resolved(options);
  const name = path.basename(file, '.ipynb');
  if (!fs.existsSync(file)) throw new Error(`midtrain: notebook ${file} does not exist`);
  fs.mkdirSync(o.outDir, { recursive: true });
  const executed = path.join(o.outDir, `${name}.ipynb`);
  const outHtml = path.join(o.outDir, `${name}.html`);
  fs.rmSync(executed, { force: true });
  const started = Date.now();
  o.log(`[notebooks] ${name}: running on preset ${o.preset} (cell timeout ${o.cellTimeoutS} s)`);

  const args = [driverPath(), file, executed, '--html', outHtml, '--timeout', String(Math.ceil(o.cellTimeoutS)), '--kernel', KERNEL_NAME, '--cwd', projectRoot()];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(jupyterPython(), args, { env: jupyterEnv({ MIDTRAIN_PRESET: o.preset }), stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (buf: Buffer) => {
      tail = (tail + buf.toString()).slice(-4000);
      for (const line of buf.toString().split('\n')) if (line.startsWith('[execute] ')) o.log(`[notebooks] ${name}: ${line.slice(10)}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (c) => (c === 0 || c === 1 ? resolve(c) : reject(new Error(`midtrain: notebook ${name} could not run (exit ${c}): ${lastLines(tail)}`))));
  });
  const seconds = (Date.now() - started) / 1000;

  if (code === 1) {
    const failure = readFailure(executed, name) ?? { notebook: name, cell: 0, codeCell: 0, ename: 'Error', evalue: 'a cell failed but the executed notebook records no error', source: '' };
    o.log(`[notebooks] ${formatFailure(failure)}${failure.source ? `   (cell starts: ${failure.source})` : ''}`);
    o.log(`[notebooks] ${name}: executed copy with the error: ${executed} (HTML: ${outHtml})`);
    return { notebook: name, ok: false, seconds, executed, html: outHtml, failure };
  }
  fs.mkdirSync(o.reportDir, { recursive: true });
  const html = path.join(o.reportDir, `${name}.html`);
  const slim = portableReport(fs.readFileSync(outHtml, 'utf8'), o.reportDir, projectRoot());
  const bundleFile = path.join(o.reportDir, PLOTLY_FILE);
  if (slim.replaced && fs.statSync(bundleFile, { throwIfNoEntry: false })?.size !== Buffer.byteLength(plotlyBundle())) writeFileAtomic(bundleFile, plotlyBundle());
  writeFileAtomic(html, slim.html);
  o.log(`[notebooks] ${name}: ok in ${seconds.toFixed(1)} s → ${path.relative(process.cwd(), html) || html}`);
  return { notebook: name, ok: true, seconds, executed, html };
}

function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** Executes notebooks in order. Runs all of them unless failFast; look at `ok` / `failure` of each result. */
export async function runNotebooks(files: string[], options: RunOptions & { failFast?: boolean } = {}): Promise<NotebookResult[]> {
  const results: NotebookResult[] = [];
  for (const f of files) {
    const r = await runNotebook(f, options);
    results.push(r);
    if (!r.ok && options.failFast) break;
  }
  return results;
}
