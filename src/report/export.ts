// Static copies of figures for write-ups: a self-contained HTML page (plotly inlined, opens offline) and a
// PNG rendered by headless Chromium (playwright-core driving Debian's /usr/bin/chromium).
import * as fs from 'fs';
import * as path from 'path';
import { escapeHtml, figureHtml, PlotlyFigure, plotlyScriptTag } from './display';

/** Chromium for PNG export: MIDTRAIN_CHROMIUM, else Debian's package path. */
export function chromiumPath(): string {
  return process.env.MIDTRAIN_CHROMIUM ?? '/usr/bin/chromium';
}

/** A whole HTML document showing one figure; `title` goes into <title>. */
export function figurePage(fig: PlotlyFigure, title = 'figure'): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="margin:0">
${plotlyScriptTag()}
${figureHtml(fig, 'figure')}
</body></html>
`;
}

/** Writes a file via a temp name + rename, so a reader never sees half a file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export interface SavePlotOptions {
  /** PNG size in CSS pixels; default the layout's width/height, else 900×500. */
  width?: number;
  height?: number;
  /** Device scale factor of the PNG (2 = sharp on paper). Default 2. */
  scale?: number;
  /** Skip the PNG (HTML only). Default: a PNG unless MIDTRAIN_NO_PNG=1 (e.g. where Chromium is absent). */
  png?: boolean;
}

/**
 * Saves `<base>.html` (self-contained) and `<base>.png` (headless Chromium). Returns the paths written.
 * A missing Chromium is a one-line error naming the path and the fix.
 */
export async function savePlot(fig: PlotlyFigure, base: string, opts: SavePlotOptions = {}): Promise<{ html: string; png?: string }> {
  const stem = base.replace(/\.(html|png)$/i, '');
  const width = opts.width ?? (typeof fig.layout?.width === 'number' ? fig.layout.width : 900);
  const height = opts.height ?? (typeof fig.layout?.height === 'number' ? fig.layout.height : 500);
  const sized: PlotlyFigure = { ...fig, layout: { ...fig.layout, width, height }, config: { ...fig.config, responsive: false, staticPlot: true } };
  const html = `${stem}.html`;
  writeFileAtomic(html, figurePage({ ...fig, layout: { ...fig.layout } }, path.basename(stem)));
  if (opts.png === false || (opts.png === undefined && process.env.MIDTRAIN_NO_PNG === '1')) return { html };
  const png = `${stem}.png`;
  writeFileAtomic(png, await renderPng(figurePage(sized, path.basename(stem)), width, height, opts.scale ?? 2));
  return { html, png };
}

/** Renders a figure page in headless Chromium and screenshots the figure's element. */
async function renderPng(page: string, width: number, height: number, scale: number): Promise<Buffer> {
  const exe = chromiumPath();
  if (!fs.existsSync(exe)) {
    throw new Error(`midtrain: PNG export needs Chromium at ${exe} (Debian: apt-get install chromium, or set MIDTRAIN_CHROMIUM)`);
  }
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath: exe, headless: true });
  try {
    const ctx = await browser.newContext({ viewport: { width, height: height + 120 } /* room for the caption line */, deviceScaleFactor: scale });
    const p = await ctx.newPage();
    await p.setContent(page, { waitUntil: 'load' });
    // Plotly draws asynchronously; the main SVG appears once the first render is done. The block holds the
    // figure and its caption line.
    await p.waitForSelector('#figure .main-svg', { timeout: 30_000 });
    return await p.locator('#figure-block').screenshot({ type: 'png' });
  } finally {
    await browser.close();
  }
}
