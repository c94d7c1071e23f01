// A notebook's report: every table it shows is also written as CSV, every figure as PNG + HTML, and at the
// end <notebook>.json lists them (with row/trace counts) beside the run ids, code versions and data hash —
// what the test reads to check that a notebook produced its results, not just that its cells ran.
import * as path from 'path';
import type { PresetName } from '../config';
import { reportsDir } from '../config';
import type { ExperimentResult } from '../experiments/result';
import { show, plot, tslab, tableInfo, type PlotlyFigure, type Tabular } from './display';
import { savePlot, writeFileAtomic } from './export';
import { recordRuns, provenance, tableCsv, codeHash, gitDescribe, type NotebookArtifact, type TableArtifact, type FigureArtifact } from './artifacts';
import type { Table } from './tables';

export interface NotebookReportOptions {
  /** Where reports go; default reports/<preset>. */
  dir?: string;
  /** Skip PNGs (HTML only), e.g. where Chromium is absent. Default: MIDTRAIN_NO_PNG=1 turns them off. */
  png?: boolean;
}

export class NotebookReport {
  readonly dir: string;
  private readonly tables: TableArtifact[] = [];
  private readonly figures: FigureArtifact[] = [];
  private readonly png: boolean;

  constructor(readonly notebook: string, readonly preset: PresetName, opts: NotebookReportOptions = {}) {
    this.dir = opts.dir ?? reportsDir(preset);
    this.png = opts.png ?? process.env.MIDTRAIN_NO_PNG !== '1';
  }

  /** Shows Markdown (in a notebook; printed elsewhere). Used for prose whose numbers are computed. */
  markdown(md: string): void {
    const tl = tslab() as (ReturnType<typeof tslab> & { display: { markdown?: (s: string) => void } }) | undefined;
    if (tl?.display.markdown) tl.display.markdown(md);
    else console.log(md);
  }

  /**
   * Shows a table under its title (and caption: what its intervals cover) and writes it to
   * tables/<notebook>--<name>.csv. Title and caption come from the call, else from the table's own
   * describeTable(), else the title is the name. (Returns nothing, so tslab prints nothing more.)
   */
  table(name: string, t: Table, opts: { maxRows?: number; show?: boolean; title?: string; caption?: string; decimals?: Record<string, number> } = {}): void {
    const csv = path.join('tables', `${this.notebook}--${name}.csv`);
    writeFileAtomic(path.join(this.dir, csv), tableCsv(t));
    const own = tableInfo(t as unknown as Tabular);
    const title = opts.title ?? own.title ?? name;
    const caption = opts.caption ?? own.caption;
    this.tables.push({ name, title, ...(caption ? { caption } : {}), rows: t.numRows(), columns: t.columnNames(), csv });
    if (opts.show !== false) show(t as unknown as Tabular, { maxRows: opts.maxRows ?? 40, title, caption, decimals: opts.decimals });
  }

  /** Shows a figure inline and saves figures/<notebook>--<name>.{html,png}. */
  async figure(name: string, fig: PlotlyFigure): Promise<void> {
    plot(fig);
    const base = path.join(this.dir, 'figures', `${this.notebook}--${name}`);
    const out = await savePlot(fig, base, { png: this.png });
    const points = fig.data.reduce((n, t) => n + countPoints(t), 0);
    this.figures.push({ name, ...(fig.caption ? { caption: fig.caption } : {}), traces: fig.data.length, points, files: [out.html, out.png].filter((f): f is string => !!f).map((f) => path.relative(this.dir, f)) });
  }

  /** The figures saved so far (name and files relative to `dir`), e.g. for a summary page that embeds them. */
  get savedFigures(): readonly FigureArtifact[] {
    return this.figures;
  }

  /** Writes runs.json (configs of every run used) and <notebook>.json (also kept in `artifact`). */
  artifact?: NotebookArtifact;

  done(results: ExperimentResult[]): void {
    recordRuns(this.dir, results);
    const prov = provenance(results);
    const artifact: NotebookArtifact = {
      notebook: this.notebook,
      preset: this.preset,
      codeHash: codeHash(),
      git: gitDescribe(),
      experiments: [...new Set(results.map((r) => r.plan.experiment.name))],
      ...prov,
      tables: this.tables,
      figures: this.figures,
    };
    writeFileAtomic(path.join(this.dir, `${this.notebook}.json`), JSON.stringify(artifact, null, 1) + '\n');
    this.artifact = artifact;
    this.markdown(`Wrote ${this.tables.length} tables and ${this.figures.length} figures to \`${path.relative(process.cwd(), this.dir) || this.dir}\` (listed in \`${this.notebook}.json\`; run configs in \`runs.json\`).`);
  }
}

/** Start a notebook's report. */
export function notebookReport(notebook: string, preset: PresetName, opts: NotebookReportOptions = {}): NotebookReport {
  return new NotebookReport(notebook, preset, opts);
}

function countPoints(trace: Record<string, unknown>): number {
  const y = trace.y ?? trace.z;
  if (!Array.isArray(y)) return 0;
  return y.reduce((n: number, v: unknown) => n + (Array.isArray(v) ? v.filter((x) => x !== null && x !== undefined).length : v === null || v === undefined ? 0 : 1), 0);
}
