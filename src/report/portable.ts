// Reports that travel: a rendered page may load only files beside it, and may not name the machine that
// rendered it. `portableReport` rewrites a notebook's HTML page for its report folder (plotly from the
// copy beside it, absolute paths of the report and the checkout made relative); `machineReferences`
// finds what would still tie a text to one machine (file:// URLs, absolute paths), for tests and checks.
import * as os from 'os';
import * as path from 'path';
import { externalizePlotly } from './display';

/** Absolute paths typical of a machine (home folders, temp, system and work folders) outside URLs and tags. */
const ABSOLUTE_PATH = /(?<![\w.:/<>~-])\/(?:home|root|tmp|usr|work|var|opt|mnt|srv|Users|private)\/[\w.@+-]+/g;

/** Every file:// reference and machine absolute path in `text` (and each of `roots`, e.g. this checkout). */
export function machineReferences(text: string, roots: string[] = []): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/file:\/\/[^\s"'<>)]*/gi)) found.add(m[0]);
  for (const m of text.matchAll(ABSOLUTE_PATH)) found.add(m[0]);
  for (const r of [...roots, os.tmpdir(), os.homedir()].filter((r) => r && r !== '/')) if (text.includes(r)) found.add(r);
  return [...found];
}

/**
 * A notebook's HTML page made portable for `reportDir`: the inlined plotly bundle replaced by the copy
 * beside the report (the caller writes it there), and absolute paths under the report folder or the
 * checkout written relative to the report (a saved figure's path printed by a cell, say).
 */
export function portableReport(html: string, reportDir: string, checkout: string): { html: string; replaced: boolean } {
  const slim = externalizePlotly(html);
  const relative = (to: string) => path.relative(reportDir, to).split(path.sep).join('/');
  let out = slim.html;
  // Longest first: the report folder lies inside the checkout.
  for (const root of [path.resolve(reportDir), path.resolve(checkout)].sort((a, b) => b.length - a.length)) {
    const rel = relative(root);
    out = out.split(`${root}/`).join(rel ? `${rel}/` : '').split(root).join(rel || '.');
  }
  return { html: out, replaced: slim.replaced };
}
